-- Argo CD health check for safesynthesizer.io/SafeSynthesizerJob (Lua 5.1, as Argo CD runs it).
-- Conditions are the contract, phase the fallback; a status that has not caught up with the
-- latest spec (observedGeneration) is still Progressing.
local hs = {}

local function condition(status, ctype)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == ctype then
      return c
    end
  end
  return nil
end

local function text(value)
  if value == nil then
    return ""
  end
  return tostring(value)
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator"
  return hs
end

local status = obj.status
local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and status.observedGeneration ~= nil and status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. text(generation)
  return hs
end

local failed = condition(status, "Failed")
if failed ~= nil and failed.status == "True" then
  hs.status = "Degraded"
  hs.message = text(failed.reason) .. ": " .. text(failed.message)
  return hs
end

local complete = condition(status, "Complete")
if complete ~= nil and complete.status == "True" then
  hs.status = "Healthy"
  local partial = condition(status, "PartialResults")
  if partial ~= nil and partial.status == "True" then
    hs.message = "Partial results: " .. text(partial.message)
  else
    hs.message = text(status.message ~= nil and status.message or complete.message)
  end
  return hs
end

local suspended = condition(status, "Suspended")
if suspended ~= nil and suspended.status == "True" then
  hs.status = "Suspended"
  hs.message = text(suspended.message)
  return hs
end

-- No decisive condition yet: fall back to the phase.
if status.phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = text(status.message)
  return hs
end
if status.phase == "Failed" then
  hs.status = "Degraded"
  hs.message = text(status.message)
  return hs
end
if status.phase == "Cancelled" then
  hs.status = "Suspended"
  hs.message = text(status.message)
  return hs
end

hs.status = "Progressing"
local message = text(status.phase ~= nil and status.phase or "Pending")
if status.progress ~= nil and status.progress.stage ~= nil then
  message = message .. ": " .. text(status.progress.stage)
  if status.progress.percent ~= nil then
    message = message .. " " .. text(status.progress.percent) .. "%"
  end
elseif status.message ~= nil then
  message = message .. ": " .. text(status.message)
end
hs.message = message
return hs
