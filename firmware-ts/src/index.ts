/** @handset/firmware: the handset runtime (platform, modules, chain, uplink, keystore, UI). */
export * from './chain';
export * from './config/index';
export * from './keystore/index';
export * from './main.sim';
export * from './modules/index';
export * from './platform';
export * from './ui/index';
export * from './uplink/index';
