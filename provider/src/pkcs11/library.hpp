// The set of PKCS#11 modules one provider instance uses, and URI resolution on top of it:
// URI -> module (module-path, module-name, configured module, p11-kit proxy) -> matching
// tokens (module, slot and token attributes) -> objects (object, id, type).
#pragma once

#include "common/result.hpp"
#include "pkcs11/module.hpp"
#include "pkcs11/object.hpp"
#include "pkcs11/pin.hpp"
#include "pkcs11/token.hpp"

#include <p11uri/uri.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace hsmp::p11 {

/// pkcs11-module-login-behavior: when to log in before a search.
enum class LoginBehavior : std::uint8_t {
    Auto,   ///< log in when private objects are wanted and the token requires login
    Always, ///< log in before every search (HSMs that hide public objects too)
    Never,  ///< never log in while searching
};

struct LibraryConfig {
    /// The configured module; empty path and name mean the p11-kit proxy.
    ModuleSpec module;
    /// pkcs11-module-token-pin, already read (file: sources are read at configuration).
    std::optional<Pin> token_pin;
    /// Set instead of token_pin when the configured PIN source could not be read.
    std::optional<Error> token_pin_error;
    LoginBehavior login_behavior = LoginBehavior::Auto;
    TokenConfig token;
};

/// What the tokens of the configured module offer (Library::mechanisms_with).
struct MechanismSurvey {
    std::vector<CK_MECHANISM_TYPE> mechanisms; ///< offered by at least one token; sorted
    std::size_t tokens = 0;                    ///< tokens asked
    std::string module;                        ///< the module's path, for messages
};

/// What a URI selects: the tokens it matches and the PIN sources it carries.
struct Selection {
    std::vector<std::shared_ptr<Token>> tokens;
    PinSources pins;
};

class Library {
public:
    explicit Library(LibraryConfig config);
    ~Library();
    Library(const Library&) = delete;
    Library& operator=(const Library&) = delete;

    /// The module a URI names: module-path, else module-name (p11-kit registry), else the
    /// configured module (the environment's PKCS11_PROVIDER_MODULE was already applied by
    /// the caller), else the p11-kit proxy. Loaded and initialised once.
    Result<std::shared_ptr<Module>> module_for(const uri::Uri& uri);

    /// Every present token in the URI's module whose module, slot and token attributes
    /// match. Errors when none matches, naming the URI and what was present.
    Result<Selection> select(const uri::Uri& uri, PinCallback callback = {});

    /// All objects the URI matches across the selected tokens. With no `type` in the URI
    /// and no `cls`, private keys, public keys and certificates are searched, each with a
    /// class filter (never an unfiltered search). Logs in per the login behaviour.
    Result<std::vector<std::shared_ptr<Object>>> find(const uri::Uri& uri,
                                                      std::optional<CK_OBJECT_CLASS> cls,
                                                      PinCallback callback = {},
                                                      std::size_t limit = 64);

    /// Exactly one private key: NotFound when none matches, Ambiguous (saying how many)
    /// when several do.
    Result<std::shared_ptr<Object>> find_private_key(const uri::Uri& uri,
                                                     PinCallback callback = {});

    /// Which of `candidates` at least one token of the configured module (the p11-kit proxy
    /// when none is configured) offers with every bit of `flags` set in C_GetMechanismInfo.
    /// Needs no login. Fails, so the caller can assume nothing is missing, when the module
    /// cannot be loaded or initialised, when a slot has no token (one inserted later could
    /// offer more), or when a token does not answer.
    Result<MechanismSurvey> mechanisms_with(CK_FLAGS flags,
                                            std::span<const CK_MECHANISM_TYPE> candidates);

    [[nodiscard]] const LibraryConfig& config() const noexcept { return m_config; }

private:
    Result<std::shared_ptr<Token>> token_for(const std::shared_ptr<Module>& module, CK_SLOT_ID slot,
                                             const CK_TOKEN_INFO& info);

    LibraryConfig m_config;
    std::mutex m_mutex; // guards the maps below; never held across a module call
    std::map<std::string, std::shared_ptr<Module>> m_modules; // by resolved path
    std::vector<std::shared_ptr<Token>> m_tokens;
};

/// The PIN sources a URI carries (pin-value, pin-source), read now.
[[nodiscard]] Result<std::optional<Pin>> uri_pin(const uri::Uri& uri);

} // namespace hsmp::p11
