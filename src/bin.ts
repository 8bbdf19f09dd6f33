// The AWS SDK warns on every run under Node 20 that its releases from 2027 will need Node 22; snapdrill pins its SDK
// and supports Node 20 (package.json engines), so the notice is noise on stderr. Set before any client is built.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { main } = await import('./cli/index.js');
await main();
