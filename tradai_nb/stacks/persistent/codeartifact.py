"""CodeArtifact: the domain and the Python package repository, which also proxies public PyPI."""

from __future__ import annotations

from tradai_nb import config
from tradai_nb.settings import Settings
from tradai_nb.stacks.common import persistent_options


def create_package_repository(settings: Settings):
    """The domain and its Python repository; returns (domain, repository).

    One repository with PyPI as its external connection, so `pip` needs one index URL. Internal packages
    stay safe from same-named public ones: once a package has a version published here, CodeArtifact's
    default package origin controls block that package's upstream.
    """
    import pulumi_aws as aws

    env = settings.environment
    tags = config.get_tags(service="packages", environment=env)
    domain = aws.codeartifact.Domain(
        "package-domain",
        domain=config.get_resource_name("packages", env),
        tags=tags,
        opts=persistent_options(settings),
    )
    repository = aws.codeartifact.Repository(
        "python-repository",
        domain=domain.domain,
        repository=config.get_resource_name("python", env),
        description="TradAI Python packages, with public PyPI behind them",
        external_connections={"external_connection_name": "public:pypi"},
        tags=tags,
        opts=persistent_options(settings),
    )
    return domain, repository
