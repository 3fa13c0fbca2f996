import { DataSource } from 'typeorm';
import { ApiKeyEntity, ClinicEntity } from '../entities';

export interface ClinicView {
  id: string;
  name: string;
  enabled: boolean;
  created_at: string;
}

const toView = (c: ClinicEntity): ClinicView => ({
  id: c.id,
  name: c.name,
  enabled: c.enabled,
  created_at: c.createdAt.toISOString(),
});

export class ClinicRepository {
  constructor(private readonly ds: DataSource) {}

  /** Creates a clinic together with its first key hash, in one transaction. */
  async createWithKey(clinic: { id: string; name: string }, key: { id: string; keyHash: string; hint: string }): Promise<ClinicView> {
    return this.ds.transaction(async (em) => {
      const saved = await em.getRepository(ClinicEntity).save({ id: clinic.id, name: clinic.name, enabled: true });
      await em.getRepository(ApiKeyEntity).insert({ id: key.id, clinicId: clinic.id, keyHash: key.keyHash, hint: key.hint });
      const reloaded = await em.getRepository(ClinicEntity).findOneByOrFail({ id: saved.id });
      return toView(reloaded);
    });
  }

  async list(limit: number, after?: string): Promise<ClinicView[]> {
    const qb = this.ds.getRepository(ClinicEntity).createQueryBuilder('c').orderBy('c.id').limit(limit);
    if (after) qb.where('c.id > :after', { after });
    return (await qb.getMany()).map(toView);
  }

  async get(clinicId: string): Promise<ClinicView | null> {
    const c = await this.ds.getRepository(ClinicEntity).findOneBy({ id: clinicId });
    return c ? toView(c) : null;
  }

  /**
   * Disabling a clinic also ends its console sessions and unused console links (`revoked_at`): they stopped
   * working with it, and enabling it again (once whatever made an operator disable it is dealt with) revived
   * every one not yet expired. Its API keys are kept: they are its to rotate.
   */
  async setEnabled(clinicId: string, enabled: boolean): Promise<ClinicView | null> {
    await this.ds.transaction(async (em) => {
      await em.getRepository(ClinicEntity).update({ id: clinicId }, { enabled });
      if (!enabled) {
        await em.query(`UPDATE portal_sessions SET revoked_at = now() WHERE clinic_id = $1 AND revoked_at IS NULL AND expires_at > now()`, [clinicId]);
      }
    });
    return this.get(clinicId);
  }
}
