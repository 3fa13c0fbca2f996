import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { ClaimStore } from '@switchyard/dedupe';
import { LOGGER, Logger } from '@switchyard/observability';

/** Deletes expired claims every DEDUPE_CLEANUP_INTERVAL, in bounded batches. */
@Injectable()
export class ClaimCleanupService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly claims: ClaimStore,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {}

  onApplicationBootstrap() {
    this.timer = setInterval(() => void this.sweep(), this.config.DEDUPE_CLEANUP_INTERVAL);
    this.timer.unref();
  }

  onApplicationShutdown() {
    clearInterval(this.timer);
  }

  async sweep(): Promise<number> {
    let total = 0;
    try {
      for (let n = await this.claims.deleteExpired(); n > 0; n = await this.claims.deleteExpired()) total += n;
      if (total > 0) this.log.info({ deleted: total }, 'expired idempotency claims deleted');
    } catch (err) {
      this.log.error({ err: { message: (err as Error).message } }, 'deleting expired claims failed');
    }
    return total;
  }
}
