import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { ApiKeyRepository, ClinicRepository, ClinicView } from '@switchyard/persistence';
import { ClinicAuthenticator, generateApiKey, hashApiKey, keyHint } from '@switchyard/tenancy';

/** Clinics and their keys. A key is returned once, when it is made; only its hash is stored. */
@Injectable()
export class ClinicOnboardingService {
  constructor(
    private readonly clinics: ClinicRepository,
    private readonly keys: ApiKeyRepository,
    private readonly authenticator: ClinicAuthenticator,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  private newKey() {
    const apiKey = generateApiKey();
    return { apiKey, row: { id: randomUUID(), keyHash: hashApiKey(apiKey, this.config.KEY_PEPPER), hint: keyHint(apiKey) } };
  }

  async create(name: string): Promise<ClinicView & { api_key: string }> {
    const { apiKey, row } = this.newKey();
    const clinic = await this.clinics.createWithKey({ id: randomUUID(), name }, row);
    return { ...clinic, api_key: apiKey };
  }

  async issueKey(clinicId: string, graceSeconds: number): Promise<{ key_id: string; api_key: string } | null> {
    const { apiKey, row } = this.newKey();
    const ok = await this.keys.issue(clinicId, row, graceSeconds);
    this.authenticator.invalidate();
    return ok ? { key_id: row.id, api_key: apiKey } : null;
  }

  async revokeKey(clinicId: string, keyId: string): Promise<boolean> {
    const ok = await this.keys.revoke(clinicId, keyId);
    this.authenticator.invalidate();
    return ok;
  }

  async setEnabled(clinicId: string, enabled: boolean): Promise<ClinicView | null> {
    const clinic = await this.clinics.setEnabled(clinicId, enabled);
    this.authenticator.invalidate();
    return clinic;
  }
}
