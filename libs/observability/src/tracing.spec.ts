import { trace } from '@opentelemetry/api';
import { tracing } from '@opentelemetry/sdk-node';
import { tracingActive } from './tracing';

describe('tracingActive', () => {
  afterEach(() => trace.disable());

  it('is false while no tracer provider is registered, true once one is, and false again after it is removed', () => {
    expect(tracingActive()).toBe(false);
    expect(trace.setGlobalTracerProvider(new tracing.BasicTracerProvider())).toBe(true);
    expect(tracingActive()).toBe(true);
    trace.disable();
    expect(tracingActive()).toBe(false);
  });
});
