import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { ClinicRepository, ApiKeyRepository } from '@switchyard/persistence';
import { ApiError } from '@switchyard/web';
import { ApiErrors } from '../api-errors.dto';
import { AdminAuthGuard } from '../auth/admin-auth.guard';
import { parse, pathId } from '../validation';
import { ClinicOnboardingService } from './clinic-onboarding.service';
import {
  ClinicDto,
  ClinicPageDto,
  ClinicWithKeysDto,
  CreateClinicDto,
  CreatedClinicDto,
  IssueKeyDto,
  IssuedKeyDto,
  UpdateClinicDto,
  createClinicSchema,
  issueKeySchema,
  listSchema,
  updateClinicSchema,
} from './clinics.dto';

/** Operator routes: clinics and their keys. */
@ApiTags('clinics')
@ApiBearerAuth()
@ApiErrors(400, 401)
@UseGuards(AdminAuthGuard)
@Controller('admin/clinics')
export class ClinicsController {
  constructor(
    private readonly onboarding: ClinicOnboardingService,
    private readonly clinics: ClinicRepository,
    private readonly keys: ApiKeyRepository,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Onboard a clinic', description: 'Answers its first API key, shown this once.' })
  @ApiCreatedResponse({ type: CreatedClinicDto })
  create(@Body() body: CreateClinicDto) {
    return this.onboarding.create(parse(createClinicSchema, body).name);
  }

  @Get()
  @ApiOperation({ summary: 'List clinics' })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'after', required: false, description: 'next_cursor of the previous page' })
  @ApiOkResponse({ type: ClinicPageDto })
  async list(@Query() query: Record<string, string>) {
    const q = parse(listSchema, query, 'query');
    const items = await this.clinics.list(q.limit, q.after);
    return { items, next_cursor: items.length === q.limit ? items[items.length - 1]!.id : null };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a clinic with its keys' })
  @ApiOkResponse({ type: ClinicWithKeysDto })
  @ApiErrors(404)
  async get(@Param('id') id: string) {
    const clinic = await this.clinics.get(pathId(id, 'clinic'));
    if (!clinic) throw ApiError.notFound('clinic');
    return { ...clinic, keys: await this.keys.list(clinic.id) };
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Enable or disable a clinic', description: 'A disabled clinic\'s keys stop working at ingress when the change commits (within AUTH_CACHE_TTL while ingress cannot LISTEN).' })
  @ApiOkResponse({ type: ClinicDto })
  @ApiErrors(404)
  async update(@Param('id') id: string, @Body() body: UpdateClinicDto) {
    const clinic = await this.onboarding.setEnabled(pathId(id, 'clinic'), parse(updateClinicSchema, body).enabled);
    if (!clinic) throw ApiError.notFound('clinic');
    return clinic;
  }

  @Post(':id/keys')
  @ApiOperation({ summary: 'Issue a new clinic key', description: 'The older keys keep working for `grace_seconds`, then expire.' })
  @ApiCreatedResponse({ type: IssuedKeyDto })
  @ApiErrors(404)
  async issueKey(@Param('id') id: string, @Body() body: IssueKeyDto) {
    const issued = await this.onboarding.issueKey(pathId(id, 'clinic'), parse(issueKeySchema, body ?? {}).grace_seconds);
    if (!issued) throw ApiError.notFound('clinic');
    return issued;
  }

  @Delete(':id/keys/:keyId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke a clinic key' })
  @ApiNoContentResponse({ description: 'Revoked.' })
  @ApiErrors(404)
  async revokeKey(@Param('id') id: string, @Param('keyId') keyId: string) {
    if (!(await this.onboarding.revokeKey(pathId(id, 'clinic'), pathId(keyId, 'key')))) throw ApiError.notFound('key');
  }
}
