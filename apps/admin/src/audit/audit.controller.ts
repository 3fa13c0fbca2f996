import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { AuditRepository } from '@switchyard/persistence';
import { ApiError } from '@switchyard/web';
import { AdminAuthGuard, ClinicKeysAllowed, CurrentPrincipal } from '../auth/admin-auth.guard';
import { Principal, clinicScope } from '../auth/principal';
import { z } from 'zod';
import { parse } from '../validation';
import { AUDIT_ACTORS, AuditPageDto, auditQuery } from './audit.dto';

const FILTERS = [
  ApiQuery({ name: 'actor', required: false, enum: AUDIT_ACTORS }),
  ApiQuery({ name: 'method', required: false, enum: ['POST', 'PUT', 'PATCH', 'DELETE'] }),
  ApiQuery({ name: 'target_id', required: false }),
  ApiQuery({ name: 'since', required: false, description: 'ISO 8601 time (inclusive)' }),
  ApiQuery({ name: 'until', required: false, description: 'ISO 8601 time (exclusive)' }),
  ApiQuery({ name: 'limit', required: false }),
  ApiQuery({ name: 'cursor', required: false, description: 'next_cursor of the previous page' }),
];
const withFilters = (): MethodDecorator => (target, key, descriptor) => {
  for (const d of FILTERS) d(target, key, descriptor);
};

/** One page of the audit trail, newest first; `clinicId` null = every clinic. */
async function page(audit: AuditRepository, clinicId: string | null, q: z.output<typeof auditQuery>) {
  return audit.list({
    clinicId,
    actorKind: q.actor,
    method: q.method,
    targetId: q.target_id,
    since: q.since ? new Date(q.since) : undefined,
    until: q.until ? new Date(q.until) : undefined,
    limit: q.limit,
    before: q.cursor,
  });
}

/** Operators: every write made through the admin API, by anyone, filterable by clinic. */
@ApiTags('audit')
@ApiBearerAuth()
@UseGuards(AdminAuthGuard)
@Controller('admin/audit')
export class AuditController {
  constructor(private readonly audit: AuditRepository) {}

  @Get()
  @ApiOperation({ summary: 'The audit trail: every admin and clinic write (who, what, target, when, request id, outcome)' })
  @ApiQuery({ name: 'clinic_id', required: false })
  @withFilters()
  @ApiOkResponse({ type: AuditPageDto })
  list(@Query() query: Record<string, string>) {
    const q = parse(auditQuery, query, 'query');
    return page(this.audit, q.clinic_id ?? null, q);
  }
}

/** A clinic's own audit entries: what its keys and portal sessions did, and what operators did to it. */
@ApiTags('audit')
@ApiBearerAuth()
@ApiHeader({ name: 'X-API-Key', required: false, description: "A clinic's own key (instead of the admin token)" })
@ClinicKeysAllowed()
@UseGuards(AdminAuthGuard)
@Controller('api/external/audit')
export class ClinicAuditController {
  constructor(private readonly audit: AuditRepository) {}

  @Get()
  @ApiOperation({ summary: "A clinic's own audit entries (operators name the clinic)" })
  @ApiQuery({ name: 'clinic_id', required: false, description: 'Operators only: the clinic whose entries to list' })
  @withFilters()
  @ApiOkResponse({ type: AuditPageDto })
  list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, string>) {
    const q = parse(auditQuery, query, 'query');
    const clinicId = clinicScope(principal, q.clinic_id);
    if (clinicId === null) throw ApiError.notFound('clinic');
    if (clinicId === undefined) throw ApiError.badRequest('clinic_id: is required');
    return page(this.audit, clinicId, q);
  }
}
