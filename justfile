# The deployment guide's `just` recipes, over tradai-nb: each runs the matching notebook through `tradai-nb run`
# (parameters validated, guard rails checked before a kernel starts, the run kept as an audit record) or the
# matching tradai-nb command, with the venv's tradai-nb (`make install` puts it, and `just` itself, in .venv/bin).
# `just --list` lists the recipes; `just -n RECIPE ...` shows the command a recipe would run, without running it.
#
# Environment: the recipes that take `env` default it to $TRADAI_ENV, else dev; the others use $TRADAI_ENV, else
# dev. `just infra-preview prod` and `TRADAI_ENV=prod just infra-preview` do the same.
#
# Confirmation: a changing recipe (infra-up-*, infra-bootstrap, ecs-force-deploy*, asg-refresh, lambda-bootstrap,
# service-push*) in staging or prod goes ahead only when $TRADAI_CONFIRM is the environment's name, exactly:
#     TRADAI_CONFIRM=prod just infra-up-compute prod
# Without it the change gate refuses before anything is touched, records the refusal, and the recipe exits 10.
# In local and dev no confirmation is needed (a state lock clear needs it everywhere, but no recipe clears locks).
#
# Images: service-push*, lambda-bootstrap build with `docker buildx` (linux/arm64) from $TRADAI_SOURCE_DIR, the
# TradAI application repository (one folder per image name, each with its Dockerfile), and push to ECR; they need a
# running Docker engine (exit 11 when Docker is missing or its engine does not answer).
#
# Exit codes are tradai-nb's (README, "Exit codes"): 0 ok, 1 failed, 2 invalid parameter, 10 refused by a guard
# rail, 11 a prerequisite missing, 12 the audit store cannot take the record.

TRADAI_ENV := env_var_or_default("TRADAI_ENV", "dev")
TRADAI_CONFIRM := env_var_or_default("TRADAI_CONFIRM", "")
tradai := quote(justfile_directory() / ".venv" / "bin" / "tradai-nb")
confirm := "-p confirm=" + quote(TRADAI_CONFIRM)

[private]
default:
    @{{quote(just_executable())}} --justfile {{quote(justfile())}} --list

# Install the Pulumi CLI and the pinned aws plugin (tradai-nb setup)
[group('infra')]
infra-setup:
    {{tradai}} setup

# Offline plan of all four stacks: resource counts per stack, no AWS account or Pulumi CLI needed
[group('infra')]
plan env=TRADAI_ENV:
    {{tradai}} run notebooks/stacks/bootstrap.ipynb --env {{quote(env)}} -p action=plan --show

# Preview all four stacks in order (bootstrap notebook, action=preview)
[group('infra')]
infra-preview env=TRADAI_ENV:
    {{tradai}} run notebooks/stacks/bootstrap.ipynb --env {{quote(env)}} -p action=preview --show

# Preview the persistent stack (S3, DynamoDB, ECR, Cognito, CodeArtifact, CloudTrail)
[group('infra')]
infra-preview-persistent env=TRADAI_ENV:
    {{tradai}} run notebooks/stacks/persistent.ipynb --env {{quote(env)}} -p action=preview --show

# Preview the foundation stack (VPC, NAT, RDS, SQS, SNS)
[group('infra')]
infra-preview-foundation env=TRADAI_ENV:
    {{tradai}} run notebooks/stacks/foundation.ipynb --env {{quote(env)}} -p action=preview --show

# Preview the compute stack (IAM, ALB, ECS, Lambda, Step Functions)
[group('infra')]
infra-preview-compute env=TRADAI_ENV:
    {{tradai}} run notebooks/stacks/compute.ipynb --env {{quote(env)}} -p action=preview --show

# Preview the edge stack (API Gateway, WAF, CloudWatch)
[group('infra')]
infra-preview-edge env=TRADAI_ENV:
    {{tradai}} run notebooks/stacks/edge.ipynb --env {{quote(env)}} -p action=preview --show

# Deploy all four stacks in order, stopping at the first failure; compute needs the Lambda images (just lambda-bootstrap) [staging/prod: TRADAI_CONFIRM=<env>]
[group('infra')]
infra-bootstrap env=TRADAI_ENV:
    {{tradai}} run notebooks/stacks/bootstrap.ipynb --env {{quote(env)}} -p action=up {{confirm}} --show

# Deploy the persistent stack (S3, DynamoDB, ECR, Cognito; no dependencies) [staging/prod: TRADAI_CONFIRM=<env>]
[group('infra')]
infra-up-persistent env=TRADAI_ENV:
    {{tradai}} run notebooks/stacks/persistent.ipynb --env {{quote(env)}} -p action=up {{confirm}} --show

# Deploy the foundation stack (VPC, NAT, RDS, SQS, SNS) [staging/prod: TRADAI_CONFIRM=<env>]
[group('infra')]
infra-up-foundation env=TRADAI_ENV:
    {{tradai}} run notebooks/stacks/foundation.ipynb --env {{quote(env)}} -p action=up {{confirm}} --show

# Deploy the compute stack (reads persistent and foundation; needs the Lambda images: just lambda-bootstrap) [staging/prod: TRADAI_CONFIRM=<env>]
[group('infra')]
infra-up-compute env=TRADAI_ENV:
    {{tradai}} run notebooks/stacks/compute.ipynb --env {{quote(env)}} -p action=up {{confirm}} --show

# Deploy the edge stack (API Gateway, WAF, CloudWatch; reads the other three) [staging/prod: TRADAI_CONFIRM=<env>]
[group('infra')]
infra-up-edge env=TRADAI_ENV:
    {{tradai}} run notebooks/stacks/edge.ipynb --env {{quote(env)}} -p action=up {{confirm}} --show

# A stack's outputs as one JSON object on stdout, secrets masked: just infra-outputs compute dev | jq -r '.alb_dns_name'
[group('infra')]
infra-outputs stack env=TRADAI_ENV:
    {{tradai}} stack output --stack {{quote(stack)}} --env {{quote(env)}} --json

# ECS services of $TRADAI_ENV (and the consolidated host's ASG): status, read-only
[group('ecs')]
ecs-status:
    {{tradai}} run notebooks/runbooks/ecs_operations.ipynb --env {{quote(TRADAI_ENV)}} -p action=status --show

# Force a new deployment of one ECS service (after an image push), wait until stable [staging/prod: TRADAI_CONFIRM=<env>]
[group('ecs')]
ecs-force-deploy service:
    {{tradai}} run notebooks/runbooks/ecs_operations.ipynb --env {{quote(TRADAI_ENV)}} -p action=force-redeploy -p service={{quote(service)}} {{confirm}} --show

# Force a new deployment of every ECS service, wait until stable [staging/prod: TRADAI_CONFIRM=<env>]
[group('ecs')]
ecs-force-deploy-all:
    {{tradai}} run notebooks/runbooks/ecs_operations.ipynb --env {{quote(TRADAI_ENV)}} -p action=force-redeploy -p service=all {{confirm}} --show

# Instance refresh of the consolidated EC2 host's ASG (picks up a new launch template) [staging/prod: TRADAI_CONFIRM=<env>]
[group('ecs')]
asg-refresh:
    {{tradai}} run notebooks/runbooks/ecs_operations.ipynb --env {{quote(TRADAI_ENV)}} -p action=instance-refresh {{confirm}} --show

# The consolidated host's ASG (and the ECS services): status, read-only
[group('ecs')]
asg-status:
    {{tradai}} run notebooks/runbooks/ecs_operations.ipynb --env {{quote(TRADAI_ENV)}} -p action=status --show

# Whether every image the Lambda functions and ECS services run is in ECR (fails when one is missing)
[group('images')]
lambda-check-images:
    {{tradai}} run notebooks/runbooks/images.ipynb --env {{quote(TRADAI_ENV)}} --show

# Build (linux/arm64) and push every Lambda image from $TRADAI_SOURCE_DIR to ECR [staging/prod: TRADAI_CONFIRM=<env>]
[group('images')]
lambda-bootstrap:
    {{tradai}} images push-all --lambdas --env {{quote(TRADAI_ENV)}} --confirm {{quote(TRADAI_CONFIRM)}}

# Log Docker in to the ECR registry of $TRADAI_ENV (the password goes to docker on stdin, never shown)
[group('images')]
service-ecr-login:
    {{tradai}} images login --env {{quote(TRADAI_ENV)}}

# Build (linux/arm64) and push one service image from $TRADAI_SOURCE_DIR to ECR [staging/prod: TRADAI_CONFIRM=<env>]
[group('images')]
service-push service:
    {{tradai}} images push {{quote(service)}} --env {{quote(TRADAI_ENV)}} --confirm {{quote(TRADAI_CONFIRM)}}

# Build (linux/arm64) and push every service image from $TRADAI_SOURCE_DIR to ECR [staging/prod: TRADAI_CONFIRM=<env>]
[group('images')]
service-push-all:
    {{tradai}} images push-all --env {{quote(TRADAI_ENV)}} --confirm {{quote(TRADAI_CONFIRM)}}
