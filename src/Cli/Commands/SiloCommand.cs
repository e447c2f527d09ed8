using System.CommandLine;
using MlPipelines.Cluster.Hosting;
using Microsoft.Extensions.Hosting;

namespace MlPipelines.Cli.Commands;

/// <summary>
/// <c>mlpipe silo</c>: a worker silo of a distributed embed cluster (see docs/cluster.md). It joins the cluster, takes
/// shards of the jobs submitted with <c>mlpipe embed --cluster</c>, embeds them with models it loads once, and runs
/// until Ctrl+C or SIGTERM.
/// </summary>
internal static class SiloCommand
{
    public static Command Create(CliConsole console)
    {
        var clusterId = new Option<string>("--cluster-id") { Description = "The cluster to join (silos and clients with the same id form one cluster).", DefaultValueFactory = _ => "mlpipe" };
        var siloPort = new Option<int>("--silo-port") { Description = "Port for silo-to-silo traffic.", DefaultValueFactory = _ => 11111 };
        var gatewayPort = new Option<int>("--gateway-port") { Description = "Port clients connect to.", DefaultValueFactory = _ => 30000 };
        var primaryPort = new Option<int>("--primary-port") { Description = "Localhost clustering: the silo port of the first silo, which keeps the membership.", DefaultValueFactory = _ => 11111 };
        var threads = new Option<int>("--threads") { Description = "Engine threads for this silo (0 = one per core)." };
        var models = new Option<string?>("--models") { Description = "Models to load at start, separated by commas (names or paths)." };
        var engine = new Option<string>("--engine") { Description = "Engine of the preloaded models: managed or onnx.", DefaultValueFactory = _ => "managed" };
        var leaseTimeout = new Option<double>("--lease-timeout") { Description = "Seconds a shard stays with a silo that stopped renewing its lease before another silo gets it.", DefaultValueFactory = _ => 60 };
        var name = new Option<string?>("--name") { Description = "This silo's name in job progress (default: machine name and silo port)." };
        engine.AcceptOnlyFromAmong("managed", "onnx");
        var cluster = new ClusterArguments();

        var command = new Command("silo", "Run a worker silo of a distributed embed cluster (Orleans) until Ctrl+C.")
        {
            clusterId, siloPort, gatewayPort, primaryPort, threads, models, engine, leaseTimeout, name,
        };
        cluster.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            double lease = parse.GetValue(leaseTimeout);
            if (!(lease >= 1 && lease <= 86400))
                throw new ArgumentException($"--lease-timeout {lease}: expected seconds between 1 and 86400.");
            EmbedClusterOptions options = cluster.Read(parse, parse.GetValue(clusterId)!) with
            {
                SiloPort = parse.GetValue(siloPort),
                GatewayPort = parse.GetValue(gatewayPort),
                PrimarySiloPort = parse.GetValue(primaryPort),
                Threads = parse.GetValue(threads),
                PreloadModels = parse.GetValue(models)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [],
                PreloadEngine = parse.GetValue(engine) == "onnx" ? "Onnx" : "Managed",
                LeaseTimeout = TimeSpan.FromSeconds(lease),
                WorkerName = parse.GetValue(name),
            };
            using IHost silo = await EmbedSilo.StartAsync(options, cancellationToken: cancellationToken);
            console.Error.WriteLine($"mlpipe: silo {options.WorkerName ?? $"{Environment.MachineName}:{options.SiloPort}"} joined cluster '{options.ClusterId}' " +
                $"({options.Clustering.ToString().ToLowerInvariant()}; silo port {options.SiloPort}, gateway port {options.GatewayPort}); Ctrl+C to stop.");
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }
            // A graceful stop: the silo leaves the membership, so its grains move at once rather than after a timeout.
            await silo.StopAsync(CancellationToken.None);
            return 0;
        });
        return command;
    }
}
