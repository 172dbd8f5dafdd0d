// A real LaunchDarkly Node server SDK, driven by tests/service/test_sdk_end_to_end.py.
//
//   node sdk.cjs CONFIG_JSON
//
// CONFIG_JSON: {"mode": "file" | "testdata" | "daemon", "redis": {"host", "port", "db"},
// "prefix", "paths" (file), "flag" and "segment" (testdata)}. The SDK reads Big Segment
// membership from Redis with @launchdarkly/node-server-sdk-redis in every mode; flags and
// segment definitions come from files (file data source), from TestData, or from Redis
// (daemon mode: useLdd with the Redis feature store). No connection to LaunchDarkly.
//
// Prints {"ready": true, "initialized": ...}, then answers one JSON line per line of
// stdin: {"eval": FLAG, "key": CONTEXT_KEY} gives {"value", "reason"}; {"status": true}
// gives the Big Segment store status. Exits when stdin closes.
'use strict';

const readline = require('node:readline');
const ld = require('@launchdarkly/node-server-sdk');
const { RedisBigSegmentStore, RedisFeatureStore } = require('@launchdarkly/node-server-sdk-redis');

async function main() {
  const config = JSON.parse(process.argv[2]);
  const redis = { redisOpts: config.redis, prefix: config.prefix };
  const options = {
    sendEvents: false,
    diagnosticOptOut: true,
    logger: ld.basicLogger({ level: 'warn', destination: (line) => console.error(line) }),
    bigSegments: {
      store: RedisBigSegmentStore(redis),
      userCacheTime: 0.05, // seconds: membership is read again almost at once
      statusPollInterval: 0.2,
      staleAfter: 30,
    },
  };
  if (config.mode === 'file') {
    options.updateProcessor = new ld.integrations.FileDataSourceFactory({
      paths: config.paths,
    }).getFactory();
  } else if (config.mode === 'testdata') {
    const td = new ld.integrations.TestData();
    await td.usePreconfiguredFlag(config.flag);
    await td.usePreconfiguredSegment(config.segment);
    options.updateProcessor = td.getFactory();
  } else if (config.mode === 'daemon') {
    options.useLdd = true;
    options.featureStore = RedisFeatureStore({ ...redis, cacheTTL: 0 });
  } else {
    throw new Error(`unknown mode ${config.mode}`);
  }
  const client = ld.init('sdk-offline-test', options);
  let initialized = true;
  try {
    await client.waitForInitialization({ timeout: 10 });
  } catch (error) {
    initialized = false;
    console.error(`not initialized: ${error}`);
  }
  console.log(JSON.stringify({ ready: true, initialized }));

  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    const request = JSON.parse(line);
    if (request.eval !== undefined) {
      const context = { kind: 'user', key: request.key };
      const detail = await client.variationDetail(request.eval, context, false);
      console.log(JSON.stringify({ value: detail.value, reason: detail.reason }));
    } else if (request.status) {
      console.log(JSON.stringify(client.bigSegmentStoreStatusProvider.getStatus() ?? null));
    }
  }
  client.close();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
