// Compiled (not run) by tests/c_suites/oracle.rs with c++ (g++) -Werror against the real dpi.h:
// aadtoken's callback is a dpiAccessTokenCallback in C++ too, without a cast.
#include <dpi.h>
#include <aadtoken.h>

static const dpiAccessTokenCallback callback = aadtoken_odpi_access_token_callback;

int main() {
    dpiPoolCreateParams params = dpiPoolCreateParams();
    params.accessTokenCallback = aadtoken_odpi_access_token_callback;
    return params.accessTokenCallback == callback ? 0 : 1;
}
