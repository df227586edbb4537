/*
 * get_token: fetch an Entra ID access token through aadtoken's C ABI and show it.
 *
 *   get_token [key=value ...]
 *
 * Settings are read, in this order (later ones win): the Azure SDK environment variables
 * (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST), the settings
 * string in AADTOKEN_SETTINGS ("key=value;key=value"), then each key=value argument.
 * Prints the token's expiry and its first characters, never the whole token or any secret.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <aadtoken.h>

static int fail(const char *what, aadtoken_status st, aadtoken_error *err) {
    fprintf(stderr, "get_token: %s failed: %s\n", what, aadtoken_status_str(st));
    if (err != NULL) {
        fprintf(stderr, "  %s\n", aadtoken_error_message(err));
        if (aadtoken_error_aadsts(err) != 0) {
            fprintf(stderr, "  AADSTS%u, correlation id %s\n", aadtoken_error_aadsts(err),
                    aadtoken_error_correlation_id(err));
        }
        aadtoken_error_free(err);
    }
    return 1;
}

int main(int argc, char **argv) {
    aadtoken_config *cfg = aadtoken_config_new();
    aadtoken_client *client = NULL;
    aadtoken_token *tok = NULL;
    aadtoken_error *err = NULL;
    aadtoken_status st;
    const char *settings = getenv("AADTOKEN_SETTINGS");
    int i;

    if ((st = aadtoken_config_load_env(cfg, &err)) != AADTOKEN_OK) return fail("reading the environment", st, err);
    if (settings != NULL && (st = aadtoken_config_parse(cfg, settings, &err)) != AADTOKEN_OK)
        return fail("AADTOKEN_SETTINGS", st, err);
    for (i = 1; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL) {
            fprintf(stderr, "usage: get_token [key=value ...]  (argument '%s' has no '=')\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        if ((st = aadtoken_config_set(cfg, argv[i], eq + 1, &err)) != AADTOKEN_OK) return fail("a setting", st, err);
    }

    st = aadtoken_client_new(cfg, &client, &err);
    aadtoken_config_free(cfg); /* the client holds its own copy */
    if (st != AADTOKEN_OK) return fail("creating the client", st, err);

    st = aadtoken_client_get_token(client, NULL, &tok, &err);
    if (st != AADTOKEN_OK) {
        aadtoken_client_free(client);
        return fail("getting a token", st, err);
    }

    {
        time_t expires = (time_t)aadtoken_token_expires_on(tok);
        char when[64];
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", gmtime(&expires));
        printf("aadtoken %s: got an access token of %zu bytes\n", aadtoken_version(), aadtoken_token_len(tok));
        printf("  expires on: %s (in %lld s)\n", when, (long long)(expires - time(NULL)));
        printf("  token:      %.24s... (first 24 characters; the rest is not shown)\n", aadtoken_token_value(tok));
    }

    aadtoken_token_free(tok);
    aadtoken_client_free(client);
    return 0;
}
