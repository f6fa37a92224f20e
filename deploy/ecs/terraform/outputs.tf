output "cluster_name" {
  value = aws_ecs_cluster.seipbot.name
}

output "service_name" {
  value = aws_ecs_service.seipbot.name
}

output "kms_key_arn" {
  description = "For the aws-kms key provider (secret_key_provider.key_id)."
  value       = aws_kms_key.seipbot.arn
}

output "secret_key_secret_arn" {
  description = "Put the keyring here: seipbot keygen | aws secretsmanager put-secret-value --secret-id … --secret-string file:///dev/stdin"
  value       = aws_secretsmanager_secret.secret_key.arn
}

output "chat_token_secret_arns" {
  value = {
    slack_bot_token = aws_secretsmanager_secret.slack_bot_token.arn
    slack_app_token = aws_secretsmanager_secret.slack_app_token.arn
  }
}

output "tasks_security_group_id" {
  value = aws_security_group.tasks.id
}
