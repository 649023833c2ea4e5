namespace Iwae.Datasets;

/// <summary>
/// Reads a table of comma-separated numbers: one row a line, every row the same width, an optional header
/// line, blank lines ignored, LF or CRLF, an optional final newline. Numbers are parsed with the invariant
/// culture (a '.' decimal point, optional exponent, no thousands separators); NaN and infinity are
/// refused. Every problem with the input, including a missing file, throws
/// <see cref="DataFormatException"/> with a one-line message naming the file and, for a bad value, its
/// line and column (the 1-based field number).
/// </summary>
/// <remarks>
/// The header is detected, not declared: the first non-blank line is a header when one of its fields is
/// non-empty and does not parse as a number. Quoted fields are not supported (a header name's enclosing
/// double quotes are removed). The text is UTF-8 (a BOM is skipped); invalid UTF-8 and control characters
/// other than tabs are refused as a binary file. Fields are capped at 4096 characters and the table at
/// <see cref="Array.MaxLength"/> values.
/// </remarks>
public static class CsvReader
{
    /// <summary>Reads a CSV file of numbers, dropping the header if there is one.</summary>
    /// <param name="path">The file.</param>
    /// <returns>Rows x columns, named after the file (e.g. "train.csv"); DType "float64".</returns>
    /// <exception cref="DataFormatException">The file is missing, empty, ragged, or holds a field that is not a finite number.</exception>
    public static DataArray Read(string path) => ReadWithHeader(path).Data;

    /// <summary>Reads a CSV file of numbers and its header, if it has one.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The table (see <see cref="Read"/>) and the header's column names, or null when the first line is data.
    /// A file holding only a header gives a 0 x (header width) table.</returns>
    /// <exception cref="DataFormatException">The file is missing, empty, ragged, or holds a field that is not a finite number.</exception>
    public static (DataArray Data, string[]? Header) ReadWithHeader(string path)
        => TextTable.Read(path, separator: ',', allowHeader: true);
}
