"""The engines a user would pick instead of the product, on the product's burst workload
(`bench/run.py --peers`): one module per engine, `runner.py` runs them all."""
