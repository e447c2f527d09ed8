namespace MlPipelines.Cluster.Grains;

/// <summary>The jobs with work left, persisted like the jobs themselves so silos find them again after a restart.</summary>
internal sealed class JobRegistryGrain([PersistentState("registry", EmbedJobGrain.StorageName)] IPersistentState<List<string>> jobs)
    : Grain, IJobRegistryGrain
{
    public async Task Add(string jobId)
    {
        if (jobs.State.Contains(jobId)) return;
        jobs.State.Add(jobId);
        await jobs.WriteStateAsync();
    }

    public async Task Remove(string jobId)
    {
        if (jobs.State.Remove(jobId)) await jobs.WriteStateAsync();
    }

    public Task<string[]> Active() => Task.FromResult(jobs.State.ToArray());
}
