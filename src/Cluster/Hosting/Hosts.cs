using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace MlPipelines.Cluster.Hosting;

/// <summary>The host a silo or a client runs in: quiet (warnings only, to the given provider), and disposed if it fails to start.</summary>
internal static class Hosts
{
    public static HostApplicationBuilder CreateBuilder(ILoggerProvider? logging = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        if (logging is not null) builder.Logging.AddProvider(logging);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        return builder;
    }

    public static async Task<IHost> StartAsync(HostApplicationBuilder builder, CancellationToken cancellationToken)
    {
        IHost host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken);
            return host;
        }
        catch
        {
            host.Dispose();
            throw;
        }
    }
}
