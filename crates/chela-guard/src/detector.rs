//! The detector catalogue: stable IDs, categories, default actions and confidences.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How sure a detector is that a span is what it claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Shape only, or a heuristic (entropy, unlabeled 64-hex); shown as a warning.
    Low,
    /// Shape plus a weak validator or plausible context.
    Medium,
    /// Distinctive prefix or a passed checksum/validator.
    High,
}

impl Confidence {
    /// Lower-case name (`high`, `medium`, `low`).
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }

    /// Parses `high`, `medium` or `low` (case-insensitive).
    pub fn parse(s: &str) -> Option<Confidence> {
        match s.to_ascii_lowercase().as_str() {
            "high" => Some(Confidence::High),
            "medium" => Some(Confidence::Medium),
            "low" => Some(Confidence::Low),
            _ => None,
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the guard does with a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Let it through, but record the hit.
    Allow,
    /// Let it through and raise a warning.
    Warn,
    /// Replace the value with a stable placeholder.
    Redact,
    /// Refuse the whole text.
    Block,
}

impl Action {
    /// Lower-case name as used in policy files and audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Warn => "warn",
            Action::Redact => "redact",
            Action::Block => "block",
        }
    }

    /// Parses `allow`, `warn`, `redact` or `block`.
    pub fn parse(s: &str) -> Option<Action> {
        match s.to_ascii_lowercase().as_str() {
            "allow" => Some(Action::Allow),
            "warn" => Some(Action::Warn),
            "redact" => Some(Action::Redact),
            "block" => Some(Action::Block),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Broad family of a detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// API keys, tokens, passwords, connection strings.
    Credential,
    /// Private key material (PEM, raw keys, WIF) and seed phrases.
    KeyMaterial,
    /// Personal data (identity numbers, phones, cards, e-mail).
    Personal,
    /// A value Chela knows to be secret (vault entries, provider keys).
    KnownSecret,
    /// Heuristics (entropy).
    Heuristic,
}

macro_rules! detectors {
    ($( $(#[$m:meta])* $variant:ident => $id:literal, $cat:ident, $act:ident; )*) => {
        /// Every detector the guard runs. IDs are stable: policy files and audit records use them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Detector {
            $( $(#[$m])* $variant, )*
        }

        impl Detector {
            /// All detectors, in catalogue order.
            pub const ALL: &'static [Detector] = &[ $( Detector::$variant, )* ];

            /// Stable snake_case ID (e.g. `cn_resident_id`).
            pub fn id(self) -> &'static str {
                match self { $( Detector::$variant => $id, )* }
            }

            /// The detector's family.
            pub fn category(self) -> Category {
                match self { $( Detector::$variant => Category::$cat, )* }
            }

            /// Action applied when the policy does not say otherwise.
            pub fn default_action(self) -> Action {
                match self { $( Detector::$variant => Action::$act, )* }
            }

            /// Looks a detector up by its stable ID.
            pub fn from_id(id: &str) -> Option<Detector> {
                match id { $( $id => Some(Detector::$variant), )* _ => None }
            }
        }
    };
}

detectors! {
    /// OpenAI keys (`sk-proj-…`, `sk-svcacct-…`, legacy `sk-…T3BlbkFJ…`).
    OpenaiApiKey => "openai_api_key", Credential, Redact;
    /// Anthropic keys (`sk-ant-api03-…`).
    AnthropicApiKey => "anthropic_api_key", Credential, Redact;
    /// DeepSeek keys (`sk-` + 32 lower-case hex).
    DeepseekApiKey => "deepseek_api_key", Credential, Redact;
    /// Alibaba Cloud DashScope / Bailian keys (`sk-` + 32 hex with DashScope/Qwen context).
    DashscopeApiKey => "dashscope_api_key", Credential, Redact;
    /// Moonshot (Kimi) keys (`sk-` + 48 alphanumerics, no OpenAI marker).
    MoonshotApiKey => "moonshot_api_key", Credential, Redact;
    /// Other `sk-` style keys of plausible length.
    GenericSkApiKey => "generic_sk_api_key", Credential, Redact;
    /// Zhipu (BigModel/GLM) keys: 32 hex, a dot, 16 alphanumerics.
    ZhipuApiKey => "zhipu_api_key", Credential, Redact;
    /// Alibaba Cloud AccessKey ID (`LTAI…`).
    AlibabaAccessKeyId => "alibaba_access_key_id", Credential, Redact;
    /// Baidu AI Cloud / Qianfan keys (`bce-v3/ALTAK-…`, `ALTAK…`).
    BaiduApiKey => "baidu_api_key", Credential, Redact;
    /// Tencent Cloud SecretId (`AKID…`).
    TencentSecretId => "tencent_secret_id", Credential, Redact;
    /// AWS access key ID (`AKIA…`, `ASIA…`).
    AwsAccessKeyId => "aws_access_key_id", Credential, Redact;
    /// AWS secret access key (40 characters next to a label or an access key ID).
    AwsSecretAccessKey => "aws_secret_access_key", Credential, Redact;
    /// Google Cloud service-account JSON private key.
    GcpServiceAccountKey => "gcp_service_account_key", KeyMaterial, Block;
    /// Google API key (`AIza…`).
    GcpApiKey => "gcp_api_key", Credential, Redact;
    /// Azure storage / service-bus account keys and AD client secrets.
    AzureKey => "azure_key", Credential, Redact;
    /// GitHub tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`).
    GithubToken => "github_token", Credential, Redact;
    /// GitLab tokens (`glpat-`, `gldt-`, `glrt-`).
    GitlabToken => "gitlab_token", Credential, Redact;
    /// Slack tokens (`xox?-`) and incoming webhooks.
    SlackToken => "slack_token", Credential, Redact;
    /// Telegram bot tokens (`123456789:AA…`).
    TelegramBotToken => "telegram_bot_token", Credential, Redact;
    /// Stripe secret and restricted keys, webhook secrets.
    StripeKey => "stripe_key", Credential, Redact;
    /// Twilio API key SIDs (`SK` + 32 hex).
    TwilioApiKey => "twilio_api_key", Credential, Redact;
    /// SendGrid API keys (`SG.….…`).
    SendgridApiKey => "sendgrid_api_key", Credential, Redact;
    /// npm access tokens (`npm_…`).
    NpmToken => "npm_token", Credential, Redact;
    /// PyPI upload tokens (`pypi-AgEI…`).
    PypiToken => "pypi_token", Credential, Redact;
    /// Hugging Face tokens (`hf_…`).
    HuggingfaceToken => "huggingface_token", Credential, Redact;
    /// JSON Web Tokens whose header decodes to JSON with `alg`.
    Jwt => "jwt", Credential, Redact;
    /// PEM private keys (RSA, EC, DSA, PKCS#8, encrypted).
    PemPrivateKey => "pem_private_key", KeyMaterial, Block;
    /// OpenSSH private keys.
    OpensshPrivateKey => "openssh_private_key", KeyMaterial, Block;
    /// PGP private key blocks.
    PgpPrivateKey => "pgp_private_key", KeyMaterial, Block;
    /// Database / broker connection strings with a password (postgres, mysql, mongodb, redis, amqp…).
    ConnectionStringPassword => "connection_string_password", Credential, Redact;
    /// Other URLs with `user:password@`.
    UrlCredentials => "url_credentials", Credential, Redact;
    /// `password=…` / `密码：…` assignments.
    PasswordAssignment => "password_assignment", Credential, Redact;
    /// `secret: …`, `api_key = …`, `token: …` assignments.
    SecretAssignment => "secret_assignment", Credential, Redact;
    /// PRC resident identity numbers (region, birth date, ISO 7064 MOD 11-2).
    CnResidentId => "cn_resident_id", Personal, Redact;
    /// PRC mobile numbers.
    CnMobile => "cn_mobile", Personal, Redact;
    /// Payment card numbers (Luhn, known issuer ranges, UnionPay included).
    BankCard => "bank_card", Personal, Redact;
    /// PRC passport numbers.
    CnPassport => "cn_passport", Personal, Redact;
    /// Unified Social Credit Codes (GB 32100 check character).
    CnUscc => "cn_uscc", Personal, Redact;
    /// E-mail addresses.
    Email => "email", Personal, Redact;
    /// BIP-39 mnemonics (English or Chinese simplified, checksum verified).
    Bip39Mnemonic => "bip39_mnemonic", KeyMaterial, Block;
    /// Raw 64-hex private keys (high only with a key label nearby).
    HexPrivateKey => "hex_private_key", KeyMaterial, Block;
    /// Bitcoin WIF private keys (base58check verified).
    WifPrivateKey => "wif_private_key", KeyMaterial, Block;
    /// A value registered with `Guard::add_known_secret`, in any common encoding.
    KnownSecret => "known_secret", KnownSecret, Block;
    /// Long high-entropy strings (warning only).
    HighEntropy => "high_entropy_string", Heuristic, Warn;
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Detector {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for Detector {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Detector::from_id(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown guard detector `{s}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for d in Detector::ALL {
            assert!(seen.insert(d.id()), "duplicate id {}", d.id());
            assert_eq!(Detector::from_id(d.id()), Some(*d));
            assert!(d
                .id()
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'));
        }
    }

    #[test]
    fn defaults_follow_the_issue() {
        assert_eq!(Detector::PemPrivateKey.default_action(), Action::Block);
        assert_eq!(Detector::Bip39Mnemonic.default_action(), Action::Block);
        assert_eq!(Detector::KnownSecret.default_action(), Action::Block);
        assert_eq!(Detector::CnResidentId.default_action(), Action::Redact);
        assert_eq!(Detector::HighEntropy.default_action(), Action::Warn);
    }
}
