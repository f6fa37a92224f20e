// Package deploy holds seipbot's deployment files: the container image,
// docker-compose, ECS Fargate task definitions and Terraform, and the Helm
// chart. It has no code to import. Its tests parse those files and check the
// security properties they promise (non-root, read-only root filesystem,
// secrets never in plain environment variables, memory limits, narrow
// network rules), because no Docker engine, cluster or cloud is reachable
// where the tests run. Where a real validator is installed (docker-compose,
// helm) they run it too.
package deploy
