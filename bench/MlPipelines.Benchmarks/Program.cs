using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/MlPipelines.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(MlPipelines.Benchmarks.EmbeddingBatchBenchmarks).Assembly).Run(args);
