import VSurveyCLI

VSurvey.mainLocalized()
