import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { z } from 'zod';
import { timeoutCeilingLimitMs } from '@switchyard/config';

/**
 * An operator's overrides of a clinic's ceilings; null puts one back to its default. A subscriber's timeout
 * may not exceed half the delivery lease (or its attempt could outlive the lease and be delivered twice).
 */
export const updateLimitsSchema = (deliveryLeaseMs: number) => {
  const longestTimeout = timeoutCeilingLimitMs(deliveryLeaseMs);
  return z
    .object({
      max_subscribers: z.number().int().min(0).max(100_000).nullable().optional(),
      max_in_flight: z.number().int().min(1).max(1000).nullable().optional(),
      max_timeout_ms: z
        .number()
        .int()
        .min(100)
        .max(longestTimeout, `must be at most ${longestTimeout} (30000, and half of DELIVERY_LEASE: a longer attempt could be delivered twice)`)
        .nullable()
        .optional(),
      ingress_rate_per_second: z.number().min(0).max(100_000).nullable().optional(),
      ingress_burst: z.number().int().min(1).max(1_000_000).nullable().optional(),
    })
    .strict();
};

class LimitValuesDto {
  @ApiProperty({ description: 'Live subscribers the clinic may have.' }) max_subscribers: number;
  @ApiProperty({ description: 'Highest max_in_flight a subscriber may ask for.' }) max_in_flight: number;
  @ApiProperty({ description: 'Longest timeout_ms a subscriber may ask for.' }) max_timeout_ms: number;
  @ApiProperty({ description: 'Events per second at ingress (0 = no limit).' }) ingress_rate_per_second: number;
  @ApiProperty({ description: 'Events the clinic may send at once.' }) ingress_burst: number;
}
class LimitOverridesDto {
  @ApiProperty({ nullable: true, type: Number }) max_subscribers: number | null;
  @ApiProperty({ nullable: true, type: Number }) max_in_flight: number | null;
  @ApiProperty({ nullable: true, type: Number }) max_timeout_ms: number | null;
  @ApiProperty({ nullable: true, type: Number }) ingress_rate_per_second: number | null;
  @ApiProperty({ nullable: true, type: Number }) ingress_burst: number | null;
}
export class ClinicLimitsDto {
  @ApiProperty() clinic_id: string;
  @ApiProperty({ type: LimitValuesDto, description: 'The ceilings in force.' }) limits: LimitValuesDto;
  @ApiProperty({ type: LimitOverridesDto, description: "This clinic's overrides; null means the configured default." }) overrides: LimitOverridesDto;
}
export class UpdatedClinicLimitsDto extends ClinicLimitsDto {
  @ApiProperty({ description: 'Subscribers whose max_in_flight or timeout_ms were lowered to the new ceilings.' }) clamped_subscribers: number;
}
export class UpdateClinicLimitsDto {
  @ApiPropertyOptional({ nullable: true, type: Number }) max_subscribers?: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) max_in_flight?: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) max_timeout_ms?: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) ingress_rate_per_second?: number | null;
  @ApiPropertyOptional({ nullable: true, type: Number }) ingress_burst?: number | null;
}
