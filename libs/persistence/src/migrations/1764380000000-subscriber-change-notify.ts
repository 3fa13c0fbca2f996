import { MigrationInterface, QueryRunner } from 'typeorm';

/** The channel on which every change to `subscribers` is announced (payload: `<schema>:<clinic id>`, or `<schema>:*`). */
export const SUBSCRIBER_CHANGES_CHANNEL = 'switchyard_subscriber_changes';

/**
 * Fan-out keeps each clinic's subscribers in memory between changes (SubscriberCache). Whatever writes the
 * table (the admin API, the dispatcher disabling an endpoint that answered 410, an operator's UPDATE)
 * fires these triggers, which NOTIFY the clinic at commit, so no writer can forget to invalidate.
 */
export class SubscriberChangeNotify1764380000000 implements MigrationInterface {
  name = 'SubscriberChangeNotify1764380000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION notify_subscriber_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_LEVEL = 'STATEMENT' THEN
          PERFORM pg_notify('${SUBSCRIBER_CHANGES_CHANNEL}', TG_TABLE_SCHEMA || ':*');
        ELSIF TG_OP = 'DELETE' THEN
          PERFORM pg_notify('${SUBSCRIBER_CHANGES_CHANNEL}', TG_TABLE_SCHEMA || ':' || OLD.clinic_id);
        ELSE
          PERFORM pg_notify('${SUBSCRIBER_CHANGES_CHANNEL}', TG_TABLE_SCHEMA || ':' || NEW.clinic_id);
          IF TG_OP = 'UPDATE' AND OLD.clinic_id IS DISTINCT FROM NEW.clinic_id THEN
            PERFORM pg_notify('${SUBSCRIBER_CHANGES_CHANNEL}', TG_TABLE_SCHEMA || ':' || OLD.clinic_id);
          END IF;
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER subscribers_notify_change AFTER INSERT OR UPDATE OR DELETE ON subscribers
        FOR EACH ROW EXECUTE FUNCTION notify_subscriber_change()`);
    await q.query(`
      CREATE TRIGGER subscribers_notify_truncate AFTER TRUNCATE ON subscribers
        FOR EACH STATEMENT EXECUTE FUNCTION notify_subscriber_change()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER IF EXISTS subscribers_notify_truncate ON subscribers`);
    await q.query(`DROP TRIGGER IF EXISTS subscribers_notify_change ON subscribers`);
    await q.query(`DROP FUNCTION IF EXISTS notify_subscriber_change()`);
  }
}
