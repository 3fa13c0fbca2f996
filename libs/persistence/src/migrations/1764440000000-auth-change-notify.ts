import { MigrationInterface, QueryRunner } from 'typeorm';

/** The channel on which every change to a clinic's keys, enabled flag or limits is announced (payload: `<schema>:<clinic id>`, or `<schema>:*`). */
export const AUTH_CHANGES_CHANNEL = 'switchyard_auth_changes';

/** Each table ingress answers from, and its column that names the clinic. */
const TABLES = [
  ['api_keys', 'clinic_id'],
  ['clinics', 'id'],
  ['clinic_limits', 'clinic_id'],
] as const;

/**
 * Ingress keeps each key's owner and each clinic's ingress limits in memory between changes (ClinicChanges).
 * Whatever writes these tables (the admin API, a rotation's grace, an operator's UPDATE) fires these
 * triggers, which NOTIFY the clinic at commit, so a revoked key or a disabled clinic is refused at once
 * without any writer having to invalidate. The clinic's column is the trigger's argument.
 */
export class AuthChangeNotify1764440000000 implements MigrationInterface {
  name = 'AuthChangeNotify1764440000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION notify_auth_change() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        new_clinic text := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) ->> TG_ARGV[0] END;
        old_clinic text := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) ->> TG_ARGV[0] END;
      BEGIN
        IF TG_LEVEL = 'STATEMENT' THEN
          PERFORM pg_notify('${AUTH_CHANGES_CHANNEL}', TG_TABLE_SCHEMA || ':*');
          RETURN NULL;
        END IF;
        IF new_clinic IS NOT NULL THEN
          PERFORM pg_notify('${AUTH_CHANGES_CHANNEL}', TG_TABLE_SCHEMA || ':' || new_clinic);
        END IF;
        IF old_clinic IS DISTINCT FROM new_clinic AND old_clinic IS NOT NULL THEN
          PERFORM pg_notify('${AUTH_CHANGES_CHANNEL}', TG_TABLE_SCHEMA || ':' || old_clinic);
        END IF;
        RETURN NULL;
      END $$`);
    for (const [table, clinicColumn] of TABLES) {
      await q.query(`
        CREATE TRIGGER ${table}_notify_auth_change AFTER INSERT OR UPDATE OR DELETE ON ${table}
          FOR EACH ROW EXECUTE FUNCTION notify_auth_change('${clinicColumn}')`);
      await q.query(`
        CREATE TRIGGER ${table}_notify_auth_truncate AFTER TRUNCATE ON ${table}
          FOR EACH STATEMENT EXECUTE FUNCTION notify_auth_change('${clinicColumn}')`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const [table] of TABLES) {
      await q.query(`DROP TRIGGER IF EXISTS ${table}_notify_auth_truncate ON ${table}`);
      await q.query(`DROP TRIGGER IF EXISTS ${table}_notify_auth_change ON ${table}`);
    }
    await q.query(`DROP FUNCTION IF EXISTS notify_auth_change()`);
  }
}
