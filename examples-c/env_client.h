/*
 * env_client.h: the aadtoken client of the pool examples (oci_token_pool.c, odpi_token_pool.c),
 * configured from the environment: the Azure SDK variables (AZURE_TENANT_ID, AZURE_CLIENT_ID,
 * AZURE_CLIENT_SECRET, AZURE_AUTHORITY_HOST...), then the settings string in AADTOKEN_SETTINGS
 * ("key=value;key=value"). On error prints why (prefixed with `program`) and returns NULL.
 */
#ifndef AADTOKEN_EXAMPLE_ENV_CLIENT_H
#define AADTOKEN_EXAMPLE_ENV_CLIENT_H

#include <stdio.h>
#include <stdlib.h>

#include <aadtoken.h>

static aadtoken_client *client_from_environment(const char *program) {
    aadtoken_config *cfg = aadtoken_config_new();
    aadtoken_client *client = NULL;
    aadtoken_error *err = NULL;
    const char *settings = getenv("AADTOKEN_SETTINGS");
    aadtoken_status st = aadtoken_config_load_env(cfg, &err);
    if (st == AADTOKEN_OK && settings != NULL) st = aadtoken_config_parse(cfg, settings, &err);
    if (st == AADTOKEN_OK) st = aadtoken_client_new(cfg, &client, &err);
    aadtoken_config_free(cfg); /* the client holds its own copy */
    if (st != AADTOKEN_OK) {
        fprintf(stderr, "%s: %s\n", program, aadtoken_error_message(err));
        aadtoken_error_free(err);
    }
    return client;
}

#endif /* AADTOKEN_EXAMPLE_ENV_CLIENT_H */
