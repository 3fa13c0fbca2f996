import { applyDecorators } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional, ApiResponse } from '@nestjs/swagger';

/** `error` of every error answer (libs/web): a stable code and a message written for the client. */
export class ErrorDetailDto {
  @ApiProperty({ example: 'not_found' }) code: string;
  @ApiProperty({ example: 'clinic not found' }) message: string;
  @ApiPropertyOptional({ description: 'More about a 400: every invalid field.' }) details?: unknown;
  @ApiPropertyOptional({ description: 'On a 5xx: the id of the logged error.' }) error_id?: string;
}

export class ErrorDto {
  @ApiProperty({ type: ErrorDetailDto }) error: ErrorDetailDto;
}

const MEANING: Record<number, string> = {
  400: 'Invalid input: the message names the field and the reason; nothing was changed.',
  401: 'Missing or invalid credentials (admin token, or a clinic key where one is allowed).',
  404: "Not found, or another clinic's (a clinic key never learns whether it exists).",
};

/** The error answers of an operation (or of every operation of a controller), as `{error:{code,message}}`. */
export const ApiErrors = (...statuses: Array<keyof typeof MEANING>) =>
  applyDecorators(...statuses.map((status) => ApiResponse({ status, description: MEANING[status], type: ErrorDto })));
