import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { LOGGER, Logger } from '@switchyard/observability';
import { RetentionRepository } from '@switchyard/persistence';
import { RetentionSweeper } from '@switchyard/retention';

/**
 * Runs the retention sweep every RETENTION_INTERVAL in the admin app (every replica: the deletes skip rows
 * another replica holds, so they share the work instead of waiting on each other). A sweep still running
 * when the next is due is not started twice.
 */
@Injectable()
export class RetentionService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopping = false;
  private readonly sweeper: RetentionSweeper;

  constructor(
    repo: RetentionRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(LOGGER) private readonly log: Logger,
  ) {
    this.sweeper = new RetentionSweeper(repo, {
      deliveredMs: config.RETENTION_DELIVERED,
      deadMs: config.RETENTION_DEAD,
      auditMs: config.RETENTION_AUDIT,
      batchSize: config.RETENTION_BATCH_SIZE,
    });
  }

  onApplicationBootstrap() {
    if (this.config.RETENTION_INTERVAL <= 0) return;
    this.timer = setInterval(() => void this.sweep(), this.config.RETENTION_INTERVAL);
    this.timer.unref();
  }

  async onApplicationShutdown() {
    this.stopping = true;
    clearInterval(this.timer);
    await this.running;
  }

  private async sweep(): Promise<void> {
    if (this.running) return;
    const started = Date.now();
    this.running = this.sweeper.sweep(() => this.stopping).then(
      (deleted) => {
        if (Object.values(deleted).some((n) => n > 0)) this.log.info({ deleted, ms: Date.now() - started }, 'retention sweep deleted old rows');
      },
      (err: Error) => this.log.error({ err: { message: err.message } }, 'retention sweep failed; retried at the next interval'),
    );
    await this.running;
    this.running = undefined;
  }
}
