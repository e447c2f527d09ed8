namespace MlPipelines.Fuzz.Tests;

/// <summary>
/// The CI-time fuzzing run: every target gets its <see cref="FuzzTarget.CiInputs"/> mutants (a fixed seed, so the
/// same inputs every run) and none may break the contract. The long runs are in docs/reliability.md.
/// </summary>
public class ContractTests(SeedFilesFixture f) : IClassFixture<SeedFilesFixture>
{
    public static TheoryData<string> Targets() => [.. FuzzTargets.All.Select(t => t.Name)];

    [Theory]
    [MemberData(nameof(Targets))]
    public void Every_mutant_loads_or_fails_with_a_documented_exception_naming_the_file(string name)
    {
        FuzzTarget target = FuzzTargets.Get(name);
        FuzzResult result = FuzzRunner.Run(target, f.Seeds, new FuzzOptions
        {
            Seed = 17,
            Inputs = target.CiInputs,
            // Hang detection only, generous for a busy CI machine; docs/reliability.md's runs use 1 s.
            HangLimit = TimeSpan.FromSeconds(10),
        });
        Assert.True(result.Violations.Count == 0,
            string.Join("\n\n", result.Violations.Select(v => $"input {v.Input} (replay: MlPipelines.Fuzz --target {name} --seed 17 --first {v.Input} --inputs 1): {v.Detail}")));
        Assert.Equal(target.CiInputs, result.Inputs);
        // The run reached past the parsers: some mutants (and the unchanged seeds) load.
        Assert.True(result.Loaded > 0, $"{name}: no input loaded");
        Assert.True(result.Rejected > 0, $"{name}: no input was rejected");
    }
}
