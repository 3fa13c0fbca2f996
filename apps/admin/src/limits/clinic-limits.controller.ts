import { Body, Controller, Get, Inject, Param, Patch, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { APP_CONFIG, AppConfig } from '@switchyard/config';
import { ClinicRepository } from '@switchyard/persistence';
import { ApiError } from '@switchyard/web';
import { AdminAuthGuard } from '../auth/admin-auth.guard';
import { parse, pathId } from '../validation';
import { ClinicCeilingsService } from './clinic-ceilings.service';
import { ClinicLimitsDto, UpdateClinicLimitsDto, UpdatedClinicLimitsDto, updateLimitsSchema } from './clinic-limits.dto';

/** Operator routes: a clinic's ceilings (subscribers, max_in_flight, timeout, ingress rate). */
@ApiTags('clinics')
@ApiBearerAuth()
@UseGuards(AdminAuthGuard)
@Controller('admin/clinics/:id/limits')
export class ClinicLimitsController {
  private readonly updateSchema: ReturnType<typeof updateLimitsSchema>;

  constructor(
    private readonly ceilings: ClinicCeilingsService,
    private readonly clinics: ClinicRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.updateSchema = updateLimitsSchema(config.DELIVERY_LEASE);
  }

  @Get()
  @ApiOperation({ summary: "A clinic's ceilings in force and its overrides" })
  @ApiOkResponse({ type: ClinicLimitsDto })
  async get(@Param('id') id: string) {
    const clinic = await this.clinics.get(pathId(id, 'clinic'));
    if (!clinic) throw ApiError.notFound('clinic');
    return this.ceilings.view(clinic.id);
  }

  @Patch()
  @ApiOperation({ summary: "Override a clinic's ceilings (null restores a default); its subscribers are brought within them" })
  @ApiOkResponse({ type: UpdatedClinicLimitsDto })
  async update(@Param('id') id: string, @Body() body: UpdateClinicLimitsDto) {
    const patch = parse(this.updateSchema, body);
    const updated = await this.ceilings.update(pathId(id, 'clinic'), patch);
    if (!updated) throw ApiError.notFound('clinic');
    return updated;
  }
}
