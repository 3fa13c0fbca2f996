import { Provider } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { ApiKeyRepository } from '@switchyard/persistence';
import { ClinicAuthenticator } from './clinic-authenticator';

/** The app's ClinicAuthenticator (ingress and admin), on its key repository and AUTH_CACHE_TTL. */
export const clinicAuthenticatorProvider: Provider = {
  provide: ClinicAuthenticator,
  inject: [ApiKeyRepository, APP_CONFIG],
  useFactory: (keys: ApiKeyRepository, c: AppConfig) => new ClinicAuthenticator(keys, c.KEY_PEPPER, c.AUTH_CACHE_TTL),
};
