"""Development tooling, outside the `lib` wheel a Databricks job installs: the benchmarks
(`python -m lib bench`, `python -m devtools.api_bench`), Drain3's probe and the local API stack
(`devtools.devstack`) that the API's tests and benchmark start."""
