# Secrets Manager holds every secret the task reads; ECS injects them
# through the task definition's "secrets", so they are never in its
# "environment", in the task definition JSON or in the console.
#
# The secret key and the chat tokens are created empty here: put their
# values in out of band (docs/deploy.md), so they never enter Terraform's
# state. The Redis password must be known to both ElastiCache and the bot,
# so Terraform makes it; keep the state encrypted and access-controlled.

resource "aws_secretsmanager_secret" "secret_key" {
  name        = "${var.name}/secret-key"
  description = "seipbot's keyring (seipbot keygen), NEW,OLD while rotating"
  kms_key_id  = aws_kms_key.seipbot.arn
}

resource "aws_secretsmanager_secret" "slack_bot_token" {
  name        = "${var.name}/slack-bot-token"
  description = "Slack bot token (xoxb-)"
  kms_key_id  = aws_kms_key.seipbot.arn
}

resource "aws_secretsmanager_secret" "slack_app_token" {
  name        = "${var.name}/slack-app-token"
  description = "Slack app-level token for Socket Mode (xapp-)"
  kms_key_id  = aws_kms_key.seipbot.arn
}

resource "random_password" "redis" {
  length  = 48
  special = false
}

resource "aws_secretsmanager_secret" "redis" {
  name        = "${var.name}/redis"
  description = "ElastiCache AUTH token and the store URL built from it"
  kms_key_id  = aws_kms_key.seipbot.arn
}

resource "aws_secretsmanager_secret_version" "redis" {
  secret_id = aws_secretsmanager_secret.redis.id
  secret_string = jsonencode({
    password = random_password.redis.result
    # rediss: TLS to ElastiCache, which has transit encryption on.
    url = "rediss://:${random_password.redis.result}@${aws_elasticache_replication_group.redis.primary_endpoint_address}:${aws_elasticache_replication_group.redis.port}/0"
  })
}
