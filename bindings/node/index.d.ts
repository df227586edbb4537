// Type declarations of the `aadtoken` package (index.js).

import statusCodes = require('./status');

/** Settings: aadtoken setting names (see the README's settings table) and their values. */
export type Settings = Record<string, string | number | boolean | bigint>;

/** Scopes: a space-separated string or an array of scopes; undefined = the `scope` setting. */
export type Scopes = string | readonly string[] | null | undefined;

/** What the device-code prompt shows the person. */
export interface DeviceCodePrompt {
  /** Entra's text: where to go and which code to enter. */
  message: string;
  userCode: string;
  verificationUri: string;
  /** When the code expires. */
  expiresOn: Date;
}

export interface ClientOptions {
  /** Read the Azure SDK environment variables (AZURE_TENANT_ID…) first; `settings` override them. */
  env?: boolean;
  /** auth_method=device_code: show the person the code (the library never prints it). */
  deviceCodeCallback?: (prompt: DeviceCodePrompt) => unknown;
  /** auth_method=interactive: open the sign-in page; return false or throw if it could not be opened. */
  openUrl?: (url: string) => unknown;
}

/** The status codes (`status.ERR_INVALID_CLIENT === 300`…), as in aadtoken.h without the prefix. */
export const status: typeof statusCodes;

/** The loaded library's version, e.g. "0.1.0". */
export function version(): string;

/** The static text of a status code: "NAME: short meaning". */
export function statusText(status: number): string;

/**
 * Stop the library's background work and join its threads; throws while a call of this package
 * is in progress. Clients, tokens and the cache stay valid.
 */
export function shutdown(): void;

/** An aadtoken failure. `message` never contains a secret. */
export class AadTokenError extends Error {
  readonly name: 'AadTokenError';
  /** The C status code, e.g. 300. */
  readonly status: number;
  /** e.g. "AADTOKEN_ERR_INVALID_CLIENT". */
  readonly statusName: string;
  /** The identity provider's OAuth error code, e.g. "invalid_client", or "". */
  readonly oauthCode: string;
  /** The main AADSTS number, or 0. */
  readonly aadsts: number;
  /** Every AADSTS number the identity provider sent. */
  readonly aadstsCodes: number[];
  /** The correlation id of the failed request, or "". */
  readonly correlationId: string;
  /** The identity provider's trace id, or "". */
  readonly traceId: string;
  /** The HTTP status of the identity provider's answer, or 0. */
  readonly httpStatus: number;
  /** Seconds the identity provider asked to wait (Retry-After), or 0. */
  readonly retryAfter: number;
}

/** A token's claims, decoded without checking the signature. */
export interface Claims {
  /** Must equal the database's application_id_uri. */
  aud: string;
  iss: string;
  tid: string;
  oid: string;
  /** A user's sign-in name; "" in application tokens. */
  upn: string;
  appid: string;
  roles: string[];
  scp: string[];
  /** Unix seconds, 0 when absent. */
  exp: number;
  iat: number;
  nbf: number;
  /** The whole payload as JSON text. */
  json: string;
}

/** An access token (immutable). `util.inspect()` and `String()` never show the token. */
export class Token {
  private constructor();
  /** The access token (a JWT): a credential, do not log it. */
  readonly token: string;
  /** When the token expires. */
  readonly expiresOn: Date;
  /** When aadtoken plans to renew it. */
  readonly refreshOn: Date;
  /** Seconds left before expiry (negative once expired). */
  readonly expiresIn: number;
  /** The token's claims; throws an AadTokenError (status 100) for a token that is not a JWT. */
  claims(): Claims;
}

/** Keeps the Oracle token file fresh; made by Client#startTokenFileKeeper. */
export class TokenFileKeeper {
  private constructor();
  /** The token file. */
  readonly path: string;
  /** The expiry of the token in the file. */
  readonly expiresOn: Date;
  /** The last failed renewal, or null. */
  readonly lastError: AadTokenError | null;
  readonly stopped: boolean;
  /** Stop the keeper (idempotent); the file stays in place. */
  stop(): Promise<void>;
}

/** The function node-oracledb takes as `accessToken`. */
export type OracledbAccessToken = (refresh: boolean, accessTokenConfig?: unknown) => Promise<string>;

/** Tokens for one identity. Share one client per identity. */
export class Client {
  /** Throws an AadTokenError naming an unknown key, a bad value or a missing setting. */
  constructor(settings?: Settings | string | null, options?: ClientOptions);
  /** The Azure SDK environment variables, then the settings string in AADTOKEN_SETTINGS. */
  static fromEnvironment(): Client;
  /** The cached token while fresh, else a new one; never blocks the event loop. */
  getToken(scopes?: Scopes): Promise<Token>;
  /** Always a new token from the identity provider, replacing the cached one. */
  refreshToken(scopes?: Scopes): Promise<Token>;
  /** getToken() for a driver's callback: never waits for a person (ERR_INTERACTION_REQUIRED at once instead). */
  getTokenSilent(scopes?: Scopes): Promise<Token>;
  /** refreshToken() for a driver's callback: never waits for a person (ERR_INTERACTION_REQUIRED at once instead). */
  refreshTokenSilent(scopes?: Scopes): Promise<Token>;
  /** Sign a person in now (device code or browser, per auth_method); the account is kept. */
  signIn(scopes?: Scopes): Promise<Token>;
  /** Forget the signed-in account and its refresh token (also in cache_file); the next getToken() signs in again. */
  signOut(): Promise<void>;
  /** node-oracledb's `accessToken`: the cached token for refresh=false, a new one for refresh=true; never waits for a person. */
  oracledbAccessToken(scopes?: Scopes): OracledbAccessToken;
  /** Write the Oracle token file once (a TOKEN_LOCATION directory or a file path). */
  writeTokenFile(location?: string | null, scopes?: Scopes): Promise<void>;
  /** Write the Oracle token file now and keep it fresh until the keeper is stopped. */
  startTokenFileKeeper(location?: string | null, scopes?: Scopes): Promise<TokenFileKeeper>;
  readonly closed: boolean;
  /** Free the native client once calls in flight have ended; idempotent; later calls throw. */
  close(): void;
}
