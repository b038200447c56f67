package auth

import "strings"

// Prefixes of a JWT_SIGNING_KEYS value that refers to where the PEM text is kept instead of holding it.
const (
	// SSMKeyPrefix, followed by a parameter name or ARN: an SSM Parameter Store SecureString (or String)
	// parameter holding the PEM text, read with decryption.
	SSMKeyPrefix = "ssm:"
	// SecretsManagerKeyPrefix, followed by a secret id (name or ARN): a Secrets Manager secret whose
	// SecretString (or SecretBinary) is the PEM text.
	SecretsManagerKeyPrefix = "secretsmanager:"
)

// IsKeyReference reports whether a JWT_SIGNING_KEYS value is an ssm: or secretsmanager: reference rather
// than PEM text, so a caller builds AWS clients only when they are needed.
func IsKeyReference(value string) bool {
	v := strings.TrimSpace(value)
	return strings.HasPrefix(v, SSMKeyPrefix) || strings.HasPrefix(v, SecretsManagerKeyPrefix)
}
