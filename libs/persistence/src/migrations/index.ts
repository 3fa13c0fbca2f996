import { InitialSchema1732800000000 } from './1732800000000-initial-schema';
import { DeliveryOrdering1764360000000 } from './1764360000000-delivery-ordering';

export const MIGRATIONS = [InitialSchema1732800000000, DeliveryOrdering1764360000000];
