import { InitialSchema1732800000000 } from './1732800000000-initial-schema';
import { SchedulerIndexes1764360000000 } from './1764360000000-scheduler-indexes';
import { SubscriberChangeNotify1764380000000 } from './1764380000000-subscriber-change-notify';
import { ClusterWideDelivery1764400000000 } from './1764400000000-cluster-wide-delivery';
import { LifecycleTables1764412000000 } from './1764412000000-lifecycle-tables';
import { RetentionIndexes1764412000001 } from './1764412000001-retention-indexes';
import { PortalSessions1764420000000 } from './1764420000000-portal-sessions';
import { EventsStreamSeqIndex1764430000000 } from './1764430000000-events-stream-seq-index';
import { AuthChangeNotify1764440000000 } from './1764440000000-auth-change-notify';
import { UnloggedClaims1764450000000 } from './1764450000000-unlogged-claims';
import { StoreWithoutForeignKeys1764460000000 } from './1764460000000-store-without-foreign-keys';
import { EntityOrderIndex1764470000000 } from './1764470000000-entity-order-index';
import { LiveSubscriberUrlUnique1764480000000 } from './1764480000000-live-subscriber-url-unique';
import { DeadLetterListIndexes1764490000000 } from './1764490000000-dead-letter-list-indexes';
import { SubscriberRecentDeliveriesIndex1764500000000 } from './1764500000000-subscriber-recent-deliveries-index';

export { SUBSCRIBER_CHANGES_CHANNEL } from './1764380000000-subscriber-change-notify';
export { DELIVERIES_DUE_CHANNEL } from './1764400000000-cluster-wide-delivery';
export { AUTH_CHANGES_CHANNEL } from './1764440000000-auth-change-notify';
export { LIVE_SUBSCRIBER_URL_INDEX } from './1764480000000-live-subscriber-url-unique';
export const MIGRATIONS = [
  InitialSchema1732800000000,
  SchedulerIndexes1764360000000,
  SubscriberChangeNotify1764380000000,
  ClusterWideDelivery1764400000000,
  LifecycleTables1764412000000,
  RetentionIndexes1764412000001,
  PortalSessions1764420000000,
  EventsStreamSeqIndex1764430000000,
  AuthChangeNotify1764440000000,
  UnloggedClaims1764450000000,
  StoreWithoutForeignKeys1764460000000,
  EntityOrderIndex1764470000000,
  LiveSubscriberUrlUnique1764480000000,
  DeadLetterListIndexes1764490000000,
  SubscriberRecentDeliveriesIndex1764500000000,
];
