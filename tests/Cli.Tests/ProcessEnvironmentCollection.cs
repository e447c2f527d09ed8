namespace MlPipelines.Cli.Tests;

/// <summary>
/// Tests that set process-wide environment variables (HF_*, MLPIPE_MODELS) while running mlpipe in-process: they run
/// alone, after the parallel tests.
/// </summary>
[CollectionDefinition(nameof(ProcessEnvironmentCollection), DisableParallelization = true)]
public sealed class ProcessEnvironmentCollection;
