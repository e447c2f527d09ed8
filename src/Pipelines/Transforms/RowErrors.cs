namespace MlPipelines.Pipelines.Transforms;

/// <summary>Errors about one row's value, in ML.NET's terms: the column and the row index.</summary>
internal static class RowErrors
{
    /// <summary>Runs <paramref name="work"/> for the row at <paramref name="row"/>; an argument error names the column and row.</summary>
    public static T For<T>(string column, long row, Func<T> work)
    {
        try
        {
            return work();
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Column '{column}', row {row}: {e.Message}", e);
        }
    }
}
