resource "aws_cloudwatch_log_group" "seipbot" {
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.seipbot.arn
}

resource "aws_ecs_cluster" "seipbot" {
  name = var.name
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

# The task definition is deploy/ecs/taskdef-elasticache.json, the same file
# `aws ecs register-task-definition` takes, so the JSON that the deploy tests
# check is exactly what Terraform registers.
locals {
  taskdef = jsondecode(templatefile("${path.module}/../taskdef-elasticache.json", {
    image               = var.image
    cpu_architecture    = var.cpu_architecture
    execution_role_arn  = aws_iam_role.execution.arn
    task_role_arn       = aws_iam_role.task.arn
    rooms               = var.rooms
    secret_key_arn      = aws_secretsmanager_secret.secret_key.arn
    redis_secret_arn    = aws_secretsmanager_secret.redis.arn
    slack_bot_token_arn = aws_secretsmanager_secret.slack_bot_token.arn
    slack_app_token_arn = aws_secretsmanager_secret.slack_app_token.arn
    log_group           = aws_cloudwatch_log_group.seipbot.name
    region              = data.aws_region.current.region
  }))
}

resource "aws_ecs_task_definition" "seipbot" {
  family                   = local.taskdef.family
  network_mode             = local.taskdef.networkMode
  requires_compatibilities = local.taskdef.requiresCompatibilities
  cpu                      = local.taskdef.cpu
  memory                   = local.taskdef.memory
  execution_role_arn       = local.taskdef.executionRoleArn
  task_role_arn            = local.taskdef.taskRoleArn
  container_definitions    = jsonencode(local.taskdef.containerDefinitions)
  runtime_platform {
    operating_system_family = local.taskdef.runtimePlatform.operatingSystemFamily
    cpu_architecture        = local.taskdef.runtimePlatform.cpuArchitecture
  }
  volume {
    name = "data"
  }
}

resource "aws_ecs_service" "seipbot" {
  name                   = var.name
  cluster                = aws_ecs_cluster.seipbot.id
  task_definition        = aws_ecs_task_definition.seipbot.arn
  desired_count          = var.desired_count
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  enable_execute_command = false
  propagate_tags         = "SERVICE"

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.tasks.id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = var.lb_target_group_arn == "" ? [] : [var.lb_target_group_arn]
    content {
      target_group_arn = load_balancer.value
      container_name   = "seipbot"
      container_port   = var.webhook_port
    }
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
}
