# Redis for seipbot's store, bus and claims: two nodes in different zones
# with automatic failover, TLS in transit, AUTH, and encryption at rest under
# the seipbot key. Only the tasks' security group reaches it.
resource "aws_elasticache_subnet_group" "redis" {
  name       = var.name
  subnet_ids = var.private_subnet_ids
}

resource "aws_elasticache_replication_group" "redis" {
  replication_group_id       = var.name
  description                = "seipbot store"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.redis_node_type
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  multi_az_enabled           = true
  port                       = 6379
  subnet_group_name          = aws_elasticache_subnet_group.redis.name
  security_group_ids         = [aws_security_group.redis.id]
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  at_rest_encryption_enabled = true
  kms_key_id                 = aws_kms_key.seipbot.arn
  auth_token                 = random_password.redis.result
  auth_token_update_strategy = "ROTATE"
  # The store must fail writes when full rather than evict reminders or
  # outbox items.
  parameter_group_name     = aws_elasticache_parameter_group.redis.name
  snapshot_retention_limit = 7
  apply_immediately        = false
}

resource "aws_elasticache_parameter_group" "redis" {
  name   = "${var.name}-redis7"
  family = "redis7"
  parameter {
    name  = "maxmemory-policy"
    value = "noeviction"
  }
}
