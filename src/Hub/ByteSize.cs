using System.Globalization;

namespace MlPipelines.Hub;

/// <summary>Byte counts for people: 1023 B, 1.5 KB, 3.2 GB (powers of 1024, as download tools print them).</summary>
public static class ByteSize
{
    private static readonly string[] Units = ["B", "KB", "MB", "GB", "TB", "PB"];

    /// <summary>Formats <paramref name="bytes"/> with one decimal above 1 KB.</summary>
    public static string Format(double bytes)
    {
        int unit = 0;
        while (Math.Abs(bytes) >= 1024 && unit < Units.Length - 1)
        {
            bytes /= 1024;
            unit++;
        }
        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes:0} B")
            : string.Create(CultureInfo.InvariantCulture, $"{bytes:0.0} {Units[unit]}");
    }
}
