"""Benchmarks of pulumi-spaceinvoices (issue 5): one command prints a table and writes JSON.

    .venv/bin/python -m benchmarks            # everything (a few minutes)
    .venv/bin/python -m benchmarks --quick    # deterministic call counts, state size, small scale

Sections: API calls per operation (`calls`), provider overhead (`overhead`), import cost
(`imports`), state size (`calls`, from the same stacks), scale through the provider server
(`scale`) and the program side under mocks (`program`). See benchmarks/README.md.
"""
