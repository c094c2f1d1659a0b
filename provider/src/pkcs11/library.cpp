#include "pkcs11/library.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace hsmp::p11 {

namespace {

uri::Version version_of(const CK_VERSION& v) {
    return {v.major, v.minor};
}

} // namespace

Result<std::optional<Pin>> uri_pin(const uri::Uri& uri) {
    if (uri.pin_value) {
        return std::optional<Pin>(Pin{SecureBuffer(*uri.pin_value), "pin-value in the URI"});
    }
    if (uri.pin_source) {
        auto pin = read_pin_source(*uri.pin_source);
        if (!pin) {
            return pin.error();
        }
        return std::optional<Pin>(std::move(pin).value());
    }
    return std::optional<Pin>();
}

Library::Library(LibraryConfig config) : m_config(std::move(config)) {}

Library::~Library() = default;

Result<std::shared_ptr<Module>> Library::module_for(const uri::Uri& uri) {
    ModuleSpec spec = m_config.module;
    if (uri.module_path) {
        spec = ModuleSpec{*uri.module_path, {}, {}};
    } else if (uri.module_name) {
        spec = ModuleSpec{{}, *uri.module_name, {}};
    }
    std::string key = !spec.path.empty()   ? spec.path
                      : !spec.name.empty() ? "name:" + spec.name
                                           : std::string(p11kit_proxy_path());
    std::shared_ptr<Module> module;
    {
        const std::lock_guard lock(m_mutex);
        if (auto it = m_modules.find(key); it != m_modules.end()) {
            module = it->second;
        }
    }
    if (!module) {
        auto loaded = Module::load(spec);
        if (!loaded) {
            return loaded.error();
        }
        const std::lock_guard lock(m_mutex);
        auto [it, inserted] = m_modules.emplace(key, std::move(loaded).value());
        module = it->second;
    }
    if (auto init = module->ensure_initialized(); !init) {
        return init.error();
    }
    return module;
}

Result<std::shared_ptr<Token>> Library::token_for(const std::shared_ptr<Module>& module,
                                                  CK_SLOT_ID slot, const CK_TOKEN_INFO& info) {
    const TokenIdentity ident = identity_of(info);
    const std::lock_guard lock(m_mutex);
    for (const auto& t : m_tokens) {
        if (t->module_ptr() == module && t->identity() == ident) {
            return t;
        }
    }
    auto token = Token::create(module, slot, info, m_config.token);
    m_tokens.push_back(token);
    return token;
}

Result<Selection> Library::select(const uri::Uri& uri, PinCallback callback) {
    auto module = module_for(uri);
    if (!module) {
        return module.error().with_context(uri::format_redacted(uri));
    }
    const Module& mod = *module.value();

    CK_INFO minfo{};
    if (auto r = mod.check("C_GetInfo", mod.path(), &CK_FUNCTION_LIST::C_GetInfo, &minfo); !r) {
        return r.error();
    }
    const uri::ModuleInfo module_info{
        uri::trim_padded(minfo.manufacturerID, sizeof minfo.manufacturerID),
        uri::trim_padded(minfo.libraryDescription, sizeof minfo.libraryDescription),
        version_of(minfo.libraryVersion)};

    Selection selection;
    if (auto pin = uri_pin(uri); !pin) {
        return pin.error();
    } else {
        selection.pins.uri_pin = std::move(pin).value();
    }
    if (m_config.token_pin) {
        selection.pins.config_pin =
            Pin{m_config.token_pin->value.clone(), m_config.token_pin->source};
    }
    selection.pins.config_pin_error = m_config.token_pin_error;
    selection.pins.callback = std::move(callback);

    if (!uri::matches(uri, module_info)) {
        return Error(Code::NotFound, "no token matches " + uri::format_redacted(uri) +
                                         ": module \"" + mod.path() +
                                         "\" does not match its library attributes");
    }

    auto slots = mod.slot_list(true);
    if (!slots) {
        return slots.error();
    }
    std::vector<std::string> present;
    for (const CK_SLOT_ID slot : slots.value()) {
        CK_SLOT_INFO sinfo{};
        CK_TOKEN_INFO tinfo{};
        if (mod.call("C_GetSlotInfo", &CK_FUNCTION_LIST::C_GetSlotInfo, slot, &sinfo) != CKR_OK ||
            mod.call("C_GetTokenInfo", &CK_FUNCTION_LIST::C_GetTokenInfo, slot, &tinfo) != CKR_OK) {
            continue; // removed meanwhile
        }
        const TokenIdentity ident = identity_of(tinfo);
        present.push_back("\"" + ident.label + "\"");
        const uri::SlotInfo slot_info{
            uri::trim_padded(sinfo.slotDescription, sizeof sinfo.slotDescription),
            uri::trim_padded(sinfo.manufacturerID, sizeof sinfo.manufacturerID), slot};
        if (!uri::matches(uri, slot_info) || !uri::matches(uri, ident.uri_info())) {
            continue;
        }
        auto token = token_for(module.value(), slot, tinfo);
        if (!token) {
            return token.error();
        }
        selection.tokens.push_back(std::move(token).value());
    }
    if (selection.tokens.empty()) {
        std::string seen;
        for (const auto& p : present) {
            seen += (seen.empty() ? "" : ", ") + p;
        }
        return Error(Code::NotFound, "no token matches " + uri::format_redacted(uri) +
                                         " in module \"" + mod.path() + "\" (tokens present: " +
                                         (seen.empty() ? std::string("none") : seen) + ")");
    }
    return selection;
}

Result<MechanismSurvey> Library::mechanisms_with(CK_FLAGS flags,
                                                 std::span<const CK_MECHANISM_TYPE> candidates) {
    auto module = module_for(uri::Uri{});
    if (!module) {
        return module.error();
    }
    const Module& mod = *module.value();
    MechanismSurvey out;
    out.module = mod.path();
    auto all_slots = mod.slot_list(false);
    if (!all_slots) {
        return all_slots.error();
    }
    auto slots = mod.slot_list(true);
    if (!slots) {
        return slots.error();
    }
    const std::size_t all = all_slots->size();
    const std::size_t present = slots->size();
    if (present == 0 || present < all) {
        return Error(Code::NotFound, "module \"" + mod.path() + "\" has " +
                                         std::to_string(all - present) + " of " +
                                         std::to_string(all) + " slots without a token");
    }
    for (const CK_SLOT_ID slot : slots.value()) {
        auto listed = mod.mechanism_list(slot, mod.path() + " slot " + std::to_string(slot));
        if (!listed) {
            return listed.error();
        }
        for (const CK_MECHANISM_TYPE m : candidates) {
            if (!std::binary_search(listed->begin(), listed->end(), m) ||
                std::find(out.mechanisms.begin(), out.mechanisms.end(), m) !=
                    out.mechanisms.end()) {
                continue;
            }
            CK_MECHANISM_INFO info{};
            // A mechanism the token lists but then describes with an error is not counted.
            if (mod.call("C_GetMechanismInfo", &CK_FUNCTION_LIST::C_GetMechanismInfo, slot, m,
                         &info) == CKR_OK &&
                (info.flags & flags) == flags) {
                out.mechanisms.push_back(m);
            }
        }
        ++out.tokens;
    }
    std::sort(out.mechanisms.begin(), out.mechanisms.end());
    return out;
}

Result<std::vector<std::shared_ptr<Object>>> Library::find(const uri::Uri& uri,
                                                           std::optional<CK_OBJECT_CLASS> cls,
                                                           PinCallback callback,
                                                           std::size_t limit) {
    auto selection = select(uri, std::move(callback));
    if (!selection) {
        return selection.error();
    }
    std::vector<CK_OBJECT_CLASS> classes;
    if (uri.type) {
        classes.push_back(object_class_of(*uri.type));
    } else if (cls) {
        classes.push_back(*cls);
    } else {
        classes = {CKO_PRIVATE_KEY, CKO_PUBLIC_KEY, CKO_CERTIFICATE};
    }
    std::vector<std::shared_ptr<Object>> out;
    for (const auto& token : selection->tokens) {
        const bool wants_private =
            std::find(classes.begin(), classes.end(), CKO_PRIVATE_KEY) != classes.end();
        const bool login = m_config.login_behavior == LoginBehavior::Always ||
                           (m_config.login_behavior == LoginBehavior::Auto && wants_private &&
                            token->login_required());
        if (login) {
            if (auto r = token->login(selection->pins); !r) {
                return r.error().with_context(uri::format_redacted(uri));
            }
        }
        for (const CK_OBJECT_CLASS c : classes) {
            if (out.size() >= limit) {
                break;
            }
            auto found = find_objects(token, uri, c, limit - out.size());
            if (!found) {
                return found.error().with_context(uri::format_redacted(uri));
            }
            for (auto& o : found.value()) {
                out.push_back(std::move(o));
            }
        }
    }
    return out;
}

Result<std::shared_ptr<Object>> Library::find_private_key(const uri::Uri& uri,
                                                          PinCallback callback) {
    if (uri.type && *uri.type != uri::ObjectType::Private) {
        return Error(Code::InvalidArgument, uri::format_redacted(uri) + " names a " +
                                                std::string(uri::type_name(*uri.type)) +
                                                " object, not a private key");
    }
    // Ask for up to 16 so an ambiguous URI can say how many it matched.
    auto found = find(uri, CKO_PRIVATE_KEY, std::move(callback), 16);
    if (!found) {
        return found.error();
    }
    if (found->empty()) {
        return Error(Code::NotFound, "no private key matches " + uri::format_redacted(uri));
    }
    if (found->size() > 1) {
        const std::string n = found->size() >= 16 ? "16 or more" : std::to_string(found->size());
        return Error(Code::Ambiguous, uri::format_redacted(uri) + " matches " + n +
                                          " private keys; add id= or object= to choose one");
    }
    return found->front();
}

} // namespace hsmp::p11
