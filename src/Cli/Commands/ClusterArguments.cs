using System.CommandLine;
using System.Globalization;
using MlPipelines.Cluster.Hosting;

namespace MlPipelines.Cli.Commands;

/// <summary>The options that say which cluster to join or talk to, shared by <c>mlpipe silo</c> and <c>mlpipe embed --cluster</c>.</summary>
internal sealed class ClusterArguments
{
    private readonly Option<string> _clustering = new("--clustering")
    {
        Description = "How silos find each other: localhost (one machine), redis or adonet (a shared membership table).",
        DefaultValueFactory = _ => "localhost",
    };
    private readonly Option<string?> _connection = new("--connection-string") { Description = "Redis or ADO.NET connection string (clustering, and job state unless --storage says otherwise)." };
    private readonly Option<string> _invariant = new("--adonet-invariant") { Description = "ADO.NET provider name (Npgsql, Microsoft.Data.SqlClient, MySql.Data.MySqlClient, …).", DefaultValueFactory = _ => "Npgsql" };
    private readonly Option<string?> _storage = new("--storage") { Description = "Where job state lives: folder (default with localhost), memory, redis or adonet." };
    private readonly Option<string?> _state = new("--state") { Description = "The folder job state is kept in with --storage folder (shared by every silo); default: a folder per cluster id in the temp folder." };

    public ClusterArguments()
    {
        _clustering.AcceptOnlyFromAmong("localhost", "redis", "adonet");
        _storage.AcceptOnlyFromAmong("folder", "memory", "redis", "adonet");
    }

    public void AddTo(Command command)
    {
        command.Add(_clustering);
        command.Add(_connection);
        command.Add(_invariant);
        command.Add(_storage);
        command.Add(_state);
    }

    /// <summary>The cluster settings the flags give, for the cluster <paramref name="clusterId"/>.</summary>
    public EmbedClusterOptions Read(ParseResult parse, string clusterId) => new()
    {
        ClusterId = clusterId,
        Clustering = parse.GetValue(_clustering) switch { "redis" => ClusteringKind.Redis, "adonet" => ClusteringKind.AdoNet, _ => ClusteringKind.Localhost },
        ConnectionString = parse.GetValue(_connection),
        AdoNetInvariant = parse.GetValue(_invariant)!,
        Storage = parse.GetValue(_storage) switch
        {
            "folder" => JobStorageKind.Folder,
            "memory" => JobStorageKind.Memory,
            "redis" => JobStorageKind.Redis,
            "adonet" => JobStorageKind.AdoNet,
            _ => null,
        },
        StateDirectory = parse.GetValue(_state),
    };

    /// <summary>Ports as <c>30000,30001</c>.</summary>
    public static int[] ParsePorts(string value, string flag)
    {
        try
        {
            return value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(p => int.Parse(p, NumberStyles.None, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new ArgumentException($"{flag} '{value}': expected port numbers separated by commas, e.g. 30000,30001.");
        }
    }
}
