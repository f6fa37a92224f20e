# Two security groups with no inline rules: each rule below is its own
# resource, so that adding one never silently replaces the others.
#
# tasks: in only from the load balancer to the webhook port; out only HTTPS
#        (chat platform, AWS APIs) and Redis.
# redis: in only from the tasks; out nothing.
resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "seipbot tasks"
  vpc_id      = var.vpc_id
}

resource "aws_security_group" "redis" {
  name        = "${var.name}-redis"
  description = "seipbot Redis"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "tasks_from_lb" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "webhooks and health checks from the load balancer"
  ip_protocol                  = "tcp"
  from_port                    = var.webhook_port
  to_port                      = var.webhook_port
  referenced_security_group_id = var.lb_security_group_id
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  for_each          = toset(var.chat_egress_cidrs)
  security_group_id = aws_security_group.tasks.id
  description       = "HTTPS to the chat platform and the AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "tasks_redis" {
  security_group_id            = aws_security_group.tasks.id
  description                  = "Redis"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_security_group.redis.id
}

resource "aws_vpc_security_group_ingress_rule" "redis_from_tasks" {
  security_group_id            = aws_security_group.redis.id
  description                  = "Redis from the seipbot tasks"
  ip_protocol                  = "tcp"
  from_port                    = 6379
  to_port                      = 6379
  referenced_security_group_id = aws_security_group.tasks.id
}
