// Compiled (not run) by types.test.js with `tsc --noEmit --strict`: the declarations in
// index.d.ts accept the README's usage and reject misuse (the @ts-expect-error lines).
import { AadTokenError, Client, Claims, Token, TokenFileKeeper, status, version, statusText, shutdown } from '..';

async function usage(): Promise<string> {
  const client = new Client({ tenant_id: 't', client_id: 'c', client_secret: 's', timeout_ms: 5000, log_pii: false });
  const other = new Client('scope=api://db/.default', { env: true });
  const fromEnv: Client = Client.fromEnvironment();
  const person = new Client({ auth_method: 'device_code', tenant_id: 't', client_id: 'c' }, {
    deviceCodeCallback: ({ message, userCode, verificationUri, expiresOn }) => `${message} ${userCode} ${verificationUri} ${expiresOn.getTime()}`,
    openUrl: (url: string) => url.startsWith('https://'),
  });
  const signedIn: Token = await person.signIn();
  const silent: Token = await person.getTokenSilent();
  const silentlyRefreshed: Token = await person.refreshTokenSilent(['api://db/.default']);
  person.close();
  const token: Token = await client.getToken();
  const again: Token = await client.getToken(['api://db/.default']);
  const fresh: Token = await client.refreshToken('api://db/.default');
  const when: Date = token.expiresOn;
  const renew: Date = fresh.refreshOn;
  const left: number = again.expiresIn;
  const claims: Claims = token.claims();
  const roles: string[] = claims.roles;
  const accessToken = client.oracledbAccessToken();
  const jwt: string = await accessToken(false, { any: 'config' });
  await client.writeTokenFile('/tmp/tokens');
  const keeper: TokenFileKeeper = await client.startTokenFileKeeper();
  const problem: AadTokenError | null = keeper.lastError;
  await keeper.stop();
  try {
    await client.getToken();
  } catch (e) {
    if (e instanceof AadTokenError && e.status === status.ERR_INVALID_CLIENT) {
      return `${e.statusName} AADSTS${e.aadsts} ${e.correlationId} ${e.oauthCode} ${e.httpStatus}`;
    }
  }
  const code: 300 = status.ERR_INVALID_CLIENT;
  // @ts-expect-error: the status constants are read-only
  status.OK = 1;
  // @ts-expect-error: scopes are strings
  await client.getToken(42);
  // @ts-expect-error: settings values are scalars
  new Client({ tenant_id: { nested: true } });
  // @ts-expect-error: a token is read-only
  token.token = 'x';
  client.close();
  other.close();
  fromEnv.close();
  shutdown();
  // @ts-expect-error: the prompt callback gets an object
  new Client({}, { deviceCodeCallback: (message: number) => message });
  return `${version()} ${statusText(code)} ${when} ${renew} ${left} ${roles} ${jwt} ${problem} ${signedIn} ${silent} ${silentlyRefreshed}`;
}

export { usage };
