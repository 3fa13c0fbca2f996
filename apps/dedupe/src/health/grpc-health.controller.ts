import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { Observable, from, map } from 'rxjs';
import { DataSource } from 'typeorm';
import { healthV1 } from '@switchyard/contracts';
import { postgresAnswers } from '@switchyard/persistence';

const ServingStatus = healthV1.HealthCheckResponse_ServingStatus;

/** The standard grpc.health.v1.Health: SERVING while Postgres answers. */
@Controller()
export class GrpcHealthController {
  constructor(private readonly ds: DataSource) {}

  @GrpcMethod('Health', 'Check')
  async check(req: healthV1.HealthCheckRequest): Promise<healthV1.HealthCheckResponse> {
    return { status: await this.status(req.service) };
  }

  @GrpcMethod('Health', 'Watch')
  watch(req: healthV1.HealthCheckRequest): Observable<healthV1.HealthCheckResponse> {
    return from(this.status(req.service)).pipe(map((status) => ({ status })));
  }

  private async status(service: string): Promise<healthV1.HealthCheckResponse_ServingStatus> {
    if (service && service !== 'dedupe.v1.DedupeService') return ServingStatus.SERVICE_UNKNOWN;
    return (await postgresAnswers(this.ds)) ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  }
}
