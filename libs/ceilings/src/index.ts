export * from './clinic-ceilings';
