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

  async setEnabled(clinicId: string, enabled: boolean): Promise<ClinicView | null> {
    await this.ds.getRepository(ClinicEntity).update({ id: clinicId }, { enabled });
    return this.get(clinicId);
  }
}
