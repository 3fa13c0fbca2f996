import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { ClaimStore } from '@switchyard/dedupe';
import { LOGGER, Logger } from '@switchyard/observability';

/** Expired claims deleted per statement. */
const BATCH = 10_000;

/**
 * Deletes expired claims every DEDUPE_CLEANUP_INTERVAL, in bounded batches, until a batch is not full (it has
 * caught up: claims that expire meanwhile wait for the next sweep). A sweep still running when the next is
 * due is not started twice.
 */
@Injectable()
export class ClaimCleanupService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

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
    if (this.running) return 0;
    this.running = this.deleteExpired();
    try {
      return await this.running;
    } finally {
      this.running = undefined;
    }
  }

  private async deleteExpired(): Promise<number> {
    let total = 0;
    try {
      // Not `until a batch deletes nothing`: claims expire at the rate they were made a DEDUPE_TTL ago, so at
      // a few hundred events per second every batch finds some, and such a sweep never ended (another started
      // beside it every interval).
      for (let n = BATCH; n === BATCH; ) {
        n = await this.claims.deleteExpired(BATCH);
        total += n;
      }
      if (total > 0) this.log.info({ deleted: total }, 'expired idempotency claims deleted');
    } catch (err) {
      this.log.error({ err: { message: (err as Error).message } }, 'deleting expired claims failed');
    }
    return total;
  }
}
