#include "ops/offer.hpp"

#include "ops/signature_encoding.hpp"

#include <algorithm>
#include <array>

namespace hsmp::ops {
namespace {

using Mechanisms = std::vector<CK_MECHANISM_TYPE>;

// Built from the digest table the signature code plans with, so a combined mechanism it can
// use is never missing here.
Mechanisms build(Family family) {
    Mechanisms out;
    for (const sig::DigestSpec& d : sig::digest_specs()) {
        switch (family) {
        case Family::Rsa:
            out.push_back(d.rsa_pkcs);
            out.push_back(d.rsa_pss);
            break;
        case Family::RsaPss:
            out.push_back(d.rsa_pss);
            break;
        case Family::Ec:
            out.push_back(d.ecdsa);
            break;
        case Family::EdDsa:
            break;
        }
    }
    switch (family) {
    case Family::Rsa:
        out.insert(out.end(), {CKM_RSA_PKCS, CKM_RSA_PKCS_PSS, CKM_RSA_X_509});
        break;
    case Family::RsaPss:
        out.insert(out.end(), {CKM_RSA_PKCS_PSS, CKM_RSA_X_509});
        break;
    case Family::Ec:
        out.push_back(CKM_ECDSA);
        break;
    case Family::EdDsa:
        out.push_back(CKM_EDDSA);
        break;
    }
    std::erase(out, CK_MECHANISM_TYPE{0}); // digests without a combined mechanism
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

constexpr std::array<Family, kFamilyCount> kFamilies = {Family::Rsa, Family::RsaPss, Family::Ec,
                                                        Family::EdDsa};

const std::array<Mechanisms, kFamilyCount>& tables() {
    static const std::array<Mechanisms, kFamilyCount> kTables = {
        build(Family::Rsa), build(Family::RsaPss), build(Family::Ec), build(Family::EdDsa)};
    return kTables;
}

std::string mechanism_list(std::span<const CK_MECHANISM_TYPE> mechanisms) {
    std::string out;
    for (std::size_t i = 0; i < mechanisms.size(); ++i) {
        if (i > 0) {
            out += i + 1 == mechanisms.size() ? " or " : ", ";
        }
        out += sig::mechanism_name(mechanisms[i]);
    }
    return out;
}

} // namespace

std::string_view family_name(Family family) noexcept {
    switch (family) {
    case Family::Rsa:
        return "RSA";
    case Family::RsaPss:
        return "RSA-PSS";
    case Family::Ec:
        return "EC";
    case Family::EdDsa:
        return "EdDSA";
    }
    return "unknown";
}

std::span<const CK_MECHANISM_TYPE> family_mechanisms(Family family) {
    return tables().at(static_cast<std::size_t>(family));
}

AlgorithmOffer AlgorithmOffer::everything(std::string why) {
    return {FamilySet::all(), false, std::move(why)};
}

AlgorithmOffer AlgorithmOffer::from_mechanisms(std::span<const CK_MECHANISM_TYPE> signing,
                                               std::string source) {
    FamilySet families;
    for (const Family f : kFamilies) {
        const auto needed = family_mechanisms(f);
        const bool any = std::any_of(signing.begin(), signing.end(), [&](CK_MECHANISM_TYPE m) {
            return std::binary_search(needed.begin(), needed.end(), m);
        });
        if (any) {
            families.add(f);
        }
    }
    return {families, true, std::move(source)};
}

std::span<const CK_MECHANISM_TYPE> AlgorithmOffer::candidates() {
    static const Mechanisms kAll = [] {
        Mechanisms all;
        for (const Family f : kFamilies) {
            const auto m = family_mechanisms(f);
            all.insert(all.end(), m.begin(), m.end());
        }
        std::sort(all.begin(), all.end());
        all.erase(std::unique(all.begin(), all.end()), all.end());
        return all;
    }();
    return kAll;
}

std::string AlgorithmOffer::not_offered_reason(Family family) const {
    return "the pkcs11 provider does not offer " + std::string(family_name(family)) +
           " keys or signatures: none of " + m_basis + " offers " +
           mechanism_list(family_mechanisms(family)) +
           " for signing (C_GetMechanismList, C_GetMechanismInfo CKF_SIGN; asked once, when "
           "the provider's algorithms were first needed)";
}

} // namespace hsmp::ops
